//! Secrets (passwords, Authorization, cookies, CSRF tokens) never reach a history, a
//! report, a snapshot, a log or a reproduction script. Header values are redacted by
//! name; free text is scrubbed of known secret values with [`Scrubber`].

/// What a redacted value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Whether a header carries a secret. Covers the CSRF token whatever name the target
/// announced in `X-CSRF-HEADER` as long as it mentions "csrf" or "xsrf".
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || (n.contains("csrf") && n != "x-csrf-header")
        || n.contains("xsrf")
        || n.contains("token")
        || n.contains("secret")
        || n.contains("password")
        || n.contains("api-key")
        || n.contains("apikey")
}

/// Replaces the value of every secret header with [`REDACTED`].
pub fn redact_headers(headers: &mut [(String, String)]) {
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
}

impl Scrubber {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a secret value; values shorter than 4 characters are ignored (they would
    /// scrub ordinary words).
    pub fn add(&mut self, secret: impl Into<String>) {
        let s = secret.into();
        if s.len() >= 4 && !self.secrets.contains(&s) {
            self.secrets.push(s);
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
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
        let mut out = text.to_string();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), REDACTED);
            }
        }
        out
    }

    /// The known secrets (for tests asserting nothing leaked).
    pub fn secrets(&self) -> &[String] {
        &self.secrets
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
}
