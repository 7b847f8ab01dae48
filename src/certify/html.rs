//! `certificate.html`: the certificate as one self-contained page (no script, no
//! external resource): the grade, the product and its statement, the per-requirement
//! matrix with stability, the harness and catalogue, the key, and the `verify` command.

use super::grade::Grade;
use super::predicate::Predicate;
use crate::check::Verdict;
use crate::report::escape_markup as esc;
use std::fmt::Write as _;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b}\
h1{font-size:1.6rem;margin:.2rem 0}.grade{display:inline-block;padding:.35rem .8rem;border-radius:.4rem;font-weight:700;font-size:1.2rem}\
.g-conformant{background:#d7f5dd;color:#0b5d1e}.g-conformant-with-exceptions{background:#fff3c4;color:#6b4e00}\
.g-not-conformant{background:#fde0e0;color:#8a1010}.g-incomplete{background:#e6e6e6;color:#333}\
table{border-collapse:collapse;width:100%;margin:.8rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
th{background:#f4f4f4}td:nth-child(-n+4),th{white-space:nowrap}td.v-pass{color:#0b5d1e}td.v-fail{color:#8a1010;font-weight:600}td.v-error{color:#6b4e00}td.v-skip{color:#555}\
code,pre{font-family:ui-monospace,monospace;font-size:.88rem;overflow-wrap:anywhere}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}\
@media (max-width:900px){.wide{display:none}table{font-size:.9rem}}";

fn grade_class(g: Grade) -> &'static str {
    match g {
        Grade::Conformant => "g-conformant",
        Grade::ConformantWithExceptions => "g-conformant-with-exceptions",
        Grade::NotConformant => "g-not-conformant",
        Grade::Incomplete => "g-incomplete",
    }
}

/// The page; `fingerprint`: the signing key's (None: unsigned); `statement_toml`: the
/// vendor's statement as written.
pub fn certificate_html(p: &Predicate, fingerprint: Option<&str>, statement_toml: &str) -> String {
    let st = &p.statement;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>gws-conform certificate: {name} {version}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <p>gws-conform certificate · GWS API v2 Chat, agent Complete</p>\n\
         <h1>{name} {version}</h1>\n<p><span class=\"grade {class}\">{grade}</span></p>\n",
        name = esc(&st.product.name),
        version = esc(&st.product.version),
        class = grade_class(p.grade),
        grade = esc(p.grade.title()),
    );
    let _ = write!(
        h,
        "<dl>\n<dt>Vendor</dt><dd>{vendor}</dd>\n<dt>Modes</dt><dd>{modes}</dd>\n\
         <dt>Seeds</dt><dd>{seeds}</dd>\n<dt>Harness</dt><dd>gws-conform {hv} (commit <code>{commit}</code>)</dd>\n\
         <dt>Catalogue</dt><dd><code>sha256:{cat}</code></dd>\n<dt>Schemas</dt><dd><code>sha256:{sch}</code></dd>\n\
         <dt>Signed by</dt><dd>{key}</dd>\n</dl>\n",
        vendor = esc(st.product.vendor.as_deref().unwrap_or("-")),
        modes = esc(&p
            .modes
            .iter()
            .map(|m| super::run::mode_name(*m))
            .collect::<Vec<_>>()
            .join(", ")),
        seeds = esc(&format!("{:?}", p.seeds)),
        hv = esc(&p.harness_version),
        commit = esc(&p.git_commit),
        cat = esc(&p.catalogue_digest),
        sch = esc(&p.schemas_digest),
        key = fingerprint.map_or_else(
            || "unsigned".to_string(),
            |f| format!("<code>{}</code>", esc(f))
        ),
    );
    if !p.contradictions.is_empty() {
        h.push_str("<h2>Statement contradicted</h2>\n<table>\n<tr><th>field</th><th>declared</th><th>seen</th><th>where</th></tr>\n");
        for c in &p.contradictions {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>seed {} {}, case {}{}</td></tr>",
                esc(&c.field),
                esc(&c.declared),
                esc(&c.seen),
                c.origin.seed,
                super::run::mode_name(c.origin.mode),
                esc(&c.origin.case),
                c.event.map(|e| format!(", event {e}")).unwrap_or_default()
            );
        }
        h.push_str("</table>\n");
    }
    h.push_str("<h2>Requirements</h2>\n<table>\n<tr><th>id</th><th>level</th><th>binding</th><th>verdict</th><th>stability</th><th class=\"wide\">witnesses</th></tr>\n");
    for r in &p.requirements {
        let v = match r.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
            Verdict::Waived => "waived",
            Verdict::Error => "error",
        };
        let witnesses: Vec<String> = r
            .witnesses
            .iter()
            .map(|w| {
                format!(
                    "seed {} {}: {}{}",
                    w.seed,
                    super::run::mode_name(w.mode),
                    w.case
                        .as_deref()
                        .map(|c| format!("case {c}: "))
                        .unwrap_or_default(),
                    w.reason
                )
            })
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"v-{v}\">{v}</td><td>{}{}</td><td class=\"wide\">{}</td></tr>",
            esc(&r.id),
            r.level.as_str(),
            if r.binding { "yes" } else { "no" },
            esc(&r.stability),
            r.exception
                .as_ref()
                .map(|x| format!(" (exception: {})", esc(x)))
                .unwrap_or_default(),
            esc(&witnesses.join("; "))
        );
    }
    h.push_str("</table>\n");
    let _ = write!(
        h,
        "<h2>Check it yourself</h2>\n<p>With the bundle folder and the signer's public key, offline:</p>\n\
         <pre>gws-conform verify BUNDLE --key gws-conform.pub</pre>\n\
         <p>It checks the signature, every file's sha256, and re-judges every recorded history with its own checker.</p>\n\
         <h2>The vendor's statement</h2>\n<pre>{}</pre>\n</body>\n</html>\n",
        esc(statement_toml)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certify::statement::Statement;

    #[test]
    fn the_page_escapes_what_the_vendor_wrote_and_names_the_grade_and_key() {
        let text = "[product]\nname='<script>x</script>'\nversion='1 & 2'\n[deployment]\nprovisioning=['customer-api']\ncsrf=true\nreference_id=true\n";
        let st = Statement::parse("s.toml", text).unwrap();
        let p = Predicate::new(st, vec![1], Grade::NotConformant, vec![], vec![]);
        let h = certificate_html(&p, Some("SHA256:abc"), text);
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;x&lt;/script&gt; 1 &amp; 2"));
        assert!(h.contains("g-not-conformant\">Not conformant<"));
        assert!(h.contains("<code>SHA256:abc</code>"));
        assert!(h.contains("gws-conform verify BUNDLE --key"));
        assert!(!h.contains("http://") && !h.contains("https://") && !h.contains("src="));
    }
}
