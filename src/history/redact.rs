//! Secrets (passwords, Authorization, cookies, CSRF tokens) never reach a history, a
//! report, a snapshot, a log or a reproduction script. Header values are redacted by
//! name; free text is scrubbed of known secret values with [`Scrubber`], which the
//! client feeds as it learns them through a [`SharedScrubber`] (session cookies, CSRF
//! tokens, the Authorization values it sends).

#![warn(missing_docs)]

use std::sync::{Arc, RwLock};

/// What a redacted value is replaced with.
pub(crate) const REDACTED: &str = "<redacted>";

/// Whether a header carries a secret. Covers the CSRF token whatever name the target
/// announced in `X-CSRF-HEADER` as long as it mentions "csrf" or "xsrf".
pub fn is_secret_header(name: &str) -> bool {
    // Lower-cased on the stack for the usual short names (this runs for every header of
    // every request recorded).
    let mut buf = [0u8; 64];
    let owned;
    let n: &str = if name.len() <= buf.len() {
        let b = &mut buf[..name.len()];
        b.copy_from_slice(name.as_bytes());
        b.make_ascii_lowercase();
        // ASCII lower-casing keeps UTF-8 valid.
        std::str::from_utf8(b).unwrap_or("")
    } else {
        owned = name.to_ascii_lowercase();
        &owned
    };
    if matches!(
        n,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) {
        return true;
    }
    // One pass over the (short) name, looking for the words only where their first
    // letter is: a substring searcher set up per word cost 1,500 instructions a header.
    let b = n.as_bytes();
    (0..b.len()).any(|i| {
        let rest = &b[i..];
        match b[i] {
            b'c' => rest.starts_with(b"csrf") && n != "x-csrf-header",
            b'x' => rest.starts_with(b"xsrf"),
            b't' => rest.starts_with(b"token"),
            b's' => rest.starts_with(b"secret"),
            b'p' => rest.starts_with(b"password"),
            b'a' => rest.starts_with(b"api-key") || rest.starts_with(b"apikey"),
            _ => false,
        }
    })
}

/// Replaces the value of every secret header with [`REDACTED`].
pub(crate) fn redact_headers(headers: &mut [(String, String)]) {
    for (name, value) in headers.iter_mut() {
        if is_secret_header(name) {
            *value = REDACTED.to_string();
        }
    }
}

/// Scrubs known secret values (passwords, tokens, session ids, their Basic encodings)
/// out of arbitrary text, as the last line of defence before anything is written.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
    /// The values given to [`Scrubber::add`] (each with all its forms in `secrets`).
    added: std::collections::HashSet<String>,
    /// A bit per two-byte sequence that starts a secret (65,536 bits; empty while no
    /// secret is known): text where no such pair occurs holds no secret, found in one
    /// pass instead of one search per secret.
    starts: Vec<u64>,
}

impl Scrubber {
    /// A scrubber that knows no secret yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret value, and the forms it takes when written elsewhere: escaped
    /// inside a JSON string (once and twice: a JSON document carried in a string), and
    /// percent-encoded (in a URL or a form). Values shorter than 4 characters are
    /// ignored (they would scrub ordinary words).
    pub fn add(&mut self, secret: impl Into<String>) {
        let s = secret.into();
        if s.len() < 4 || !self.added.insert(s.clone()) {
            return;
        }
        let json_once = json_escaped(&s);
        let json_twice = json_escaped(&json_once);
        let url = percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        let url_lower = lower_escapes(&url);
        for form in [s, json_once, json_twice, url, url_lower] {
            if !self.secrets.contains(&form) {
                self.secrets.push(form);
            }
        }
        self.index();
    }

    /// Adds `form` exactly as given (no other form of it), if it is at least 4 bytes.
    pub(crate) fn add_exact(&mut self, form: &str) {
        if form.len() < 4 || self.secrets.iter().any(|s| s == form) {
            return;
        }
        self.secrets.push(form.to_string());
        self.index();
    }

    /// Sorts the forms and marks where they start.
    fn index(&mut self) {
        // Longest first, so a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        if self.starts.is_empty() {
            self.starts = vec![0; 1024];
        }
        for form in &self.secrets {
            let k = pair_key(form.as_bytes());
            self.starts[k / 64] |= 1 << (k % 64);
        }
    }

    /// Whether `text` holds one of `secrets` (one pass over `text`: a secret is looked
    /// for only where its first two bytes occur).
    fn holds_any(&self, text: &str, secrets: &[String]) -> bool {
        let b = text.as_bytes();
        let Some(&first) = b.first() else {
            return false;
        };
        let mut prev = first;
        for (i, &c) in b.iter().enumerate().skip(1) {
            let k = (usize::from(prev) << 8) | usize::from(c);
            if self.starts[k >> 6] & (1 << (k & 63)) != 0
                && secrets.iter().any(|s| b[i - 1..].starts_with(s.as_bytes()))
            {
                return true;
            }
            prev = c;
        }
        false
    }

    /// Adds a `Cookie`/`Set-Cookie` header value: the whole `name=value` pair and the
    /// value alone (attributes such as `Path` are not secrets).
    pub fn add_cookie(&mut self, header_value: &str) {
        let pair = header_value.split(';').next().unwrap_or("").trim();
        if let Some((_, value)) = pair.split_once('=') {
            self.add(value.trim().trim_matches('"'));
        }
        self.add(pair);
    }

    /// Adds an agent's credentials: the password, and the `user:password` pair in plain
    /// and Basic (base64) form.
    pub fn add_credentials(&mut self, user: &str, password: &str) {
        use base64::Engine;
        let pair = format!("{user}:{password}");
        self.add(base64::engine::general_purpose::STANDARD.encode(&pair));
        self.add(pair);
        self.add(password);
    }

    /// `text` with every known secret replaced by [`REDACTED`].
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_cow(text).into_owned()
    }

    /// [`Scrubber::scrub`], borrowing `text` when it holds no secret (most text: no copy).
    pub fn scrub_cow<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        let mut out = std::borrow::Cow::Borrowed(text);
        // Longest first: those longer than the text cannot be in it.
        let first = self.secrets.partition_point(|s| s.len() > text.len());
        if first == self.secrets.len() || !self.holds_any(text, &self.secrets[first..]) {
            return out;
        }
        for s in &self.secrets[first..] {
            if out.contains(s.as_str()) {
                out = std::borrow::Cow::Owned(out.replace(s.as_str(), REDACTED));
            }
        }
        out
    }

    /// Whether `secret` was given to [`Scrubber::add`] already (its forms are known).
    pub fn knows(&self, secret: &str) -> bool {
        self.added.contains(secret)
    }

    /// The known secrets (for tests asserting nothing leaked).
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }
}

/// The index of the two-byte sequence `b` starts with (`b` holds at least two bytes).
fn pair_key(b: &[u8]) -> usize {
    (usize::from(b[0]) << 8) | usize::from(b[1])
}

/// A percent-encoded text with its escapes in lower case (`%2F` -> `%2f`).
fn lower_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut hex = 0;
    for c in s.chars() {
        if c == '%' {
            hex = 2;
            out.push(c);
        } else if hex > 0 {
            hex -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `s` as it appears between the quotes of a JSON string.
fn json_escaped(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_default();
    q.get(1..q.len().saturating_sub(1))
        .unwrap_or("")
        .to_string()
}

/// One [`Scrubber`] shared by the runner (which writes the outputs) and the clients
/// (which learn the secrets: every `Set-Cookie` value, the CSRF token, the Authorization
/// values sent). Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct SharedScrubber(Arc<RwLock<Scrubber>>);

impl PartialEq for SharedScrubber {
    /// The same shared scrubber.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl SharedScrubber {
    /// A new, empty shared scrubber.
    pub fn new() -> Self {
        Self::default()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Scrubber> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }

    /// [`Scrubber::add`].
    pub fn add(&self, secret: impl Into<String> + AsRef<str>) {
        let s = secret.as_ref();
        if s.len() >= 4 && !self.knows(s) {
            self.write().add(secret);
        }
    }

    /// [`Scrubber::add_cookie`] (every request sends its cookie: a known one costs a
    /// look-up, not a write).
    pub fn add_cookie(&self, header_value: &str) {
        let pair = header_value.split(';').next().unwrap_or("").trim();
        let known = {
            let r = self.read();
            (pair.len() < 4 || r.knows(pair))
                && pair.split_once('=').is_none_or(|(_, v)| {
                    let v = v.trim().trim_matches('"');
                    v.len() < 4 || r.knows(v)
                })
        };
        if !known {
            self.write().add_cookie(header_value);
        }
    }

    /// [`Scrubber::add_credentials`].
    pub fn add_credentials(&self, user: &str, password: &str) {
        self.write().add_credentials(user, password);
    }

    /// An `Authorization` value sent (`Basic <base64>`): the whole value and the
    /// credential part.
    pub fn add_authorization(&self, value: &str) {
        if !self.knows(value) {
            let mut w = self.write();
            w.add(value);
            if let Some((_, cred)) = value.split_once(' ') {
                w.add(cred.trim());
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Scrubber> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn knows(&self, s: &str) -> bool {
        self.read().knows(s)
    }

    /// The scrubber as it is now (the writers take a `&Scrubber`).
    pub fn snapshot(&self) -> Scrubber {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// [`Scrubber::scrub`] with the secrets known now.
    pub fn scrub(&self, text: &str) -> String {
        self.0.read().unwrap_or_else(|p| p.into_inner()).scrub(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_headers_are_redacted_by_name() {
        let mut h = vec![
            ("Authorization".to_string(), "Basic YTpi".to_string()),
            ("Cookie".to_string(), "JSESSIONID=abc".to_string()),
            ("X-CSRF-TOKEN".to_string(), "tok".to_string()),
            ("X-CSRF-HEADER".to_string(), "X-CSRF-TOKEN".to_string()),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        redact_headers(&mut h);
        assert_eq!(h[0].1, REDACTED);
        assert_eq!(h[1].1, REDACTED);
        assert_eq!(h[2].1, REDACTED);
        assert_eq!(h[3].1, "X-CSRF-TOKEN", "the header *name* is not a secret");
        assert_eq!(h[4].1, "application/json");
    }

    #[test]
    fn scrubber_removes_passwords_and_basic_encodings() {
        let mut s = Scrubber::new();
        s.add_credentials("agent1", "hunter22");
        let text = "user agent1 ran curl -u agent1:hunter22 -H 'Authorization: Basic YWdlbnQxOmh1bnRlcjIy' pw=hunter22";
        let out = s.scrub(text);
        assert!(!out.contains("hunter22"), "{out}");
        assert!(!out.contains("YWdlbnQxOmh1bnRlcjIy"), "{out}");
        assert!(out.contains("agent1"), "user names are not secrets: {out}");
    }

    #[test]
    fn escaped_and_encoded_forms_are_scrubbed_too() {
        let shared = SharedScrubber::new();
        shared.add_cookie("JSESSIONID=ab\"c/d+e; Path=/; HttpOnly");
        shared.add("tok/en+1");
        let s = shared.snapshot();
        let inner = serde_json::json!({"cookie": "JSESSIONID=ab\"c/d+e"}).to_string();
        let outer = serde_json::json!({"message": inner}).to_string();
        for text in [
            outer.as_str(),
            "GET /x?c=ab%22c%2Fd%2Be&t=tok%2fen%2b1",
            "t=tok%2Fen%2B1 and tok/en+1",
        ] {
            let out = s.scrub(text);
            for leak in ["c/d+e", "c%2Fd", "c%2fd", "en+1", "en%2B1", "en%2b1"] {
                assert!(!out.contains(leak), "{leak} in {out}");
            }
        }
        assert!(s.scrub("Path=/; HttpOnly").contains("HttpOnly"));
        // The handle is shared: a clone sees later additions.
        let clone = shared.clone();
        shared.add_authorization("Basic c2VjcmV0LWJhc2lj");
        assert_eq!(clone.scrub("Basic c2VjcmV0LWJhc2lj"), REDACTED);
        assert_eq!(clone.scrub("x c2VjcmV0LWJhc2lj"), format!("x {REDACTED}"));
    }

    #[test]
    fn secrets_are_found_anywhere_and_clean_text_is_borrowed() {
        let mut s = Scrubber::new();
        assert!(matches!(
            s.scrub_cow("nothing known yet"),
            std::borrow::Cow::Borrowed(_)
        ));
        s.add("s3cr3t-token");
        s.add("abcd");
        for (text, want) in [
            ("s3cr3t-token", REDACTED.to_string()),
            ("xs3cr3t-token", format!("x{REDACTED}")),
            ("at the end: abcd", format!("at the end: {REDACTED}")),
            ("abcdabcd", format!("{REDACTED}{REDACTED}")),
            // The secret's first bytes without the rest are no secret.
            ("s3cr3t-tokeN abc s3", "s3cr3t-tokeN abc s3".to_string()),
        ] {
            assert_eq!(s.scrub(text), want, "{text}");
        }
        for clean in ["", "a", "ab", "s3cr3t-tokeN", "no secret here at all, abc"] {
            assert!(
                matches!(s.scrub_cow(clean), std::borrow::Cow::Borrowed(_)),
                "{clean}"
            );
        }
        // Multi-byte text around a secret.
        assert_eq!(s.scrub("é abcd é"), format!("é {REDACTED} é"));
    }

    #[test]
    fn secret_header_names_are_recognised_by_the_words_they_hold() {
        for secret in [
            "Authorization",
            "proxy-authorization",
            "Cookie",
            "Set-Cookie",
            "X-CSRF-TOKEN",
            "X-XSRF-TOKEN",
            "csrf",
            "X-Auth-Token",
            "My-Secret",
            "X-Password",
            "X-Api-Key",
            "APIKEY",
            &format!("X-{}-Token", "a".repeat(80)),
        ] {
            assert!(is_secret_header(secret), "{secret}");
        }
        for plain in [
            "Content-Type",
            "Accept",
            "ContactCenterId",
            "X-CSRF-HEADER",
            "tok",
            "",
            "X-Api",
        ] {
            assert!(!is_secret_header(plain), "{plain}");
        }
    }
}
