//! How JSON text is read and written under the variations that change its form on the
//! wire (`lone-surrogates`, `escaped-letters`): a reader that carries escapes of lone
//! surrogates through serde_json (which refuses them), and a serde_json formatter that
//! writes them back as escapes, and escapes some ASCII letters.
//!
//! A lone surrogate `\uD800`–`\uDFFF` is carried as the supplementary private-use code
//! point `U+10F800 + (s - 0xD800)` (`U+10F800`–`U+10FFFF`); on output those code points
//! are written as the escape again. A request that itself carries such a private-use
//! character is, under the variation, read back as a lone surrogate (documented cost).

use std::io;

use serde::Serialize;
use serde_json::Value;

/// First code point of the carriers of lone surrogates.
const CARRIER_BASE: u32 = 0x10_F800;

/// `bytes` with every escape of a lone surrogate inside a JSON string replaced by its
/// carrier (raw UTF-8); everything else, escapes of paired surrogates included, is kept.
/// Not JSON stays not JSON (serde_json refuses it afterwards).
pub(crate) fn carry_lone_surrogates(bytes: &[u8]) -> Vec<u8> {
    fn hex4(b: &[u8]) -> Option<u32> {
        let s = std::str::from_utf8(b.get(..4)?).ok()?;
        u32::from_str_radix(s, 16)
            .ok()
            .filter(|_| s.bytes().all(|c| c.is_ascii_hexdigit()))
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !in_string {
            in_string = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                out.push(b);
                i += 1;
            }
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                let Some(cu) = hex4(&bytes[i + 2..]) else {
                    out.extend_from_slice(&bytes[i..i + 2]);
                    i += 2;
                    continue;
                };
                let paired = (0xD800..0xDC00).contains(&cu)
                    && bytes.get(i + 6) == Some(&b'\\')
                    && bytes.get(i + 7) == Some(&b'u')
                    && hex4(&bytes[i + 8..]).is_some_and(|lo| (0xDC00..0xE000).contains(&lo));
                if paired {
                    out.extend_from_slice(&bytes[i..i + 12]);
                    i += 12;
                } else if (0xD800..0xE000).contains(&cu) {
                    let c = char::from_u32(CARRIER_BASE + (cu - 0xD800)).expect("in range");
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 6;
                } else {
                    out.extend_from_slice(&bytes[i..i + 6]);
                    i += 6;
                }
            }
            b'\\' => {
                out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                i += 2;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// How [`to_vec`] writes strings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Form {
    /// Carriers of lone surrogates are written as their `\uDXXX` escape.
    pub lone_surrogates: bool,
    /// In string values (not keys), the letters of [`ESCAPED_LETTERS`] are written as
    /// `\u00XX` escapes (RFC 8259 §7: any character may be escaped).
    pub escaped_letters: bool,
}

/// The ASCII letters `escaped-letters` writes as escapes.
pub(crate) const ESCAPED_LETTERS: &[u8] = b"AaEeOo";

struct Fmt {
    form: Form,
    in_key: bool,
}

impl serde_json::ser::Formatter for Fmt {
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.in_key = true;
        if first { Ok(()) } else { w.write_all(b",") }
    }

    fn end_object_key<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.in_key = false;
        Ok(())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc =
                if self.form.lone_surrogates && (CARRIER_BASE..=0x10_FFFF).contains(&(c as u32)) {
                    Some(format!("\\u{:04x}", (c as u32 - CARRIER_BASE) + 0xD800))
                } else if self.form.escaped_letters
                    && !self.in_key
                    && c.is_ascii()
                    && ESCAPED_LETTERS.contains(&(c as u8))
                {
                    Some(format!("\\u{:04X}", c as u32))
                } else {
                    None
                };
            if let Some(e) = esc {
                w.write_all(&fragment.as_bytes()[start..i])?;
                w.write_all(e.as_bytes())?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// `v` as compact JSON text in the given form.
pub(crate) fn to_vec(v: &Value, form: Form) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        Fmt {
            form,
            in_key: false,
        },
    );
    // Serializing a Value into a Vec cannot fail.
    let _ = v.serialize(&mut ser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_round_trip_and_pairs_stay() {
        let raw = br#"{"text":"a\ud800b\uDFFFc\ud83d\ude00\\ud800","k\udc00":1}"#;
        let carried = carry_lone_surrogates(raw);
        let v: Value = serde_json::from_slice(&carried).expect("now serde reads it");
        let out = to_vec(
            &v,
            Form {
                lone_surrogates: true,
                escaped_letters: false,
            },
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(r#"a\ud800b\udfffc😀\\ud800"#), "{text}");
        assert!(text.contains(r#""k\udc00":1"#), "{text}");
        assert!(
            serde_json::from_slice::<Value>(raw).is_err(),
            "serde refuses them"
        );
        // Not JSON stays not JSON; no panic on truncated escapes.
        for bad in [&b"\"\\u12"[..], b"\"\\", b"{\"a\":\"\\ud800"] {
            let _ = carry_lone_surrogates(bad);
        }
    }

    #[test]
    fn escaped_letters_only_in_values_and_still_the_same_json() {
        let v = serde_json::json!({"statusMessage": "Not found", "n": 3, "list": ["Ok"]});
        let out = to_vec(
            &v,
            Form {
                lone_surrogates: false,
                escaped_letters: true,
            },
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains(r#""statusMessage":"N\u006Ft f\u006Fund""#),
            "{text}"
        );
        assert!(text.contains(r#"["\u004Fk"]"#), "{text}");
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), v);
    }
}
