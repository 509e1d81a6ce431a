//! No secret reaches the log. Every line the operator writes goes through a [`Redactor`]:
//! bearer tokens, JSON Web Tokens, OAuth fields (`access_token`, `client_secret`,
//! `client_assertion`, ...), SAS signatures, and the credentials the process was given in its
//! environment are replaced with `[redacted]`, at every level and in every format. The Azure
//! SDK's transport, for one, logs each request's `Authorization` header at debug level.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use regex::Regex;
use tracing_subscriber::fmt::MakeWriter;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Environment variables whose values are secrets (Azure identity's).
const SECRET_VARIABLES: [&str; 3] = [
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_PASSWORD",
];

/// Finds secrets in text.
#[derive(Debug)]
pub struct Redactor {
    patterns: Vec<(Regex, &'static str)>,
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor that also hides these exact values (shorter than 4 characters are ignored:
    /// they would hide ordinary words).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let patterns = [
            // `Authorization: Bearer <token>`, in any spelling.
            (r"(?i)\b(bearer)(\s+|%20)[A-Za-z0-9\-._~+/]+=*", "$1$2[redacted]"),
            // A JSON Web Token anywhere (workload identity assertions, access tokens).
            (
                r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
                REDACTED,
            ),
            // OAuth and connection-string fields, as JSON, forms, query strings or Debug.
            (
                r#"(?i)\b((?:access_token|refresh_token|id_token|client_secret|client_assertion|assertion|password|sig|accountkey|sharedaccesskey)\\?["']?\s*[:=]\s*\\?["']?)[^"'\\&\s,;}]+"#,
                "$1[redacted]",
            ),
        ]
        .into_iter()
        .filter_map(|(re, with)| Regex::new(re).ok().map(|r| (r, with)))
        .collect();
        Self {
            patterns,
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
        }
    }

    /// A redactor for this process: the patterns, plus the secret values of its environment
    /// (client secret, certificate password) and the workload identity token file's content.
    pub fn from_env() -> Self {
        let mut secrets: Vec<String> = SECRET_VARIABLES
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .collect();
        if let Some(token) = std::env::var_os("AZURE_FEDERATED_TOKEN_FILE")
            .and_then(|path| std::fs::read_to_string(path).ok())
        {
            secrets.push(token.trim().to_string());
        }
        Self::new(secrets)
    }

    /// `text` with every secret replaced.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        for (re, with) in &self.patterns {
            if let Cow::Owned(replaced) = re.replace_all(&out, *with) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }
}

/// A [`MakeWriter`] whose writers redact what they are given before it goes out.
#[derive(Clone, Debug)]
pub struct RedactingWriter<M> {
    inner: M,
    redactor: Arc<Redactor>,
}

impl<M> RedactingWriter<M> {
    /// Redact with `redactor` what goes to `inner`.
    pub fn new(inner: M, redactor: Redactor) -> Self {
        Self {
            inner,
            redactor: Arc::new(redactor),
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingWriter<M> {
    type Writer = Redacted<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacted {
            inner: self.inner.make_writer(),
            redactor: self.redactor.clone(),
            buffer: Vec::new(),
        }
    }
}

/// Collects one log record and writes it redacted when flushed or dropped (the formatter
/// writes a whole record to one writer, so a secret is never split between two writes).
pub struct Redacted<W: Write> {
    inner: W,
    redactor: Arc<Redactor>,
    buffer: Vec<u8>,
}

impl<W: Write> Redacted<W> {
    fn emit(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let clean = self.redactor.redact(&text).into_owned();
        self.buffer.clear();
        self.inner.write_all(clean.as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Write for Redacted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.emit()
    }
}

impl<W: Write> Drop for Redacted<W> {
    fn drop(&mut self) {
        let _ = self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::new(["s3cr3t-value".to_string(), "abc".to_string()])
            .redact(text)
            .into_owned()
    }

    #[test]
    fn bearer_tokens_in_headers_and_debug_output() {
        for line in [
            "authorization: Bearer mock.tenant.0123456789abcdef",
            r#""authorization": HeaderValue("Bearer eyJ0eXAi.eyJhdWQi.sig-_x")"#,
            "Authorization=bearer%20abc.def~ghi",
        ] {
            let out = redact(line);
            assert!(out.contains(REDACTED), "{out}");
            for secret in ["mock.tenant", "eyJ0eXAi", "abc.def"] {
                assert!(!out.contains(secret), "{out}");
            }
        }
    }

    #[test]
    fn oauth_fields_json_web_tokens_and_known_secrets() {
        let out = redact(
            r#"grant_type=client_credentials&client_id=app&client_secret=hunter2&scope=x {"access_token":"tok-1","expires_in":3599} client_assertion=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln sig=AbC%3D&se=1 the s3cr3t-value!"#,
        );
        for secret in ["hunter2", "tok-1", "eyJhbGci", "AbC%3D", "s3cr3t-value"] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.contains("client_id=app") && out.contains(r#""expires_in":3599"#),
            "{out}"
        );
        // Too short to hide: would hide ordinary words.
        assert!(redact("abc").contains("abc"));
    }

    #[test]
    fn the_writer_redacts_whole_records() {
        let sink = crate::testing::Buffer::default();
        let out = sink.clone();
        let make = RedactingWriter::new(move || sink.clone(), Redactor::new([]));
        {
            let mut w = make.make_writer();
            w.write_all(b"authorization: Bear").ok();
            w.write_all(b"er tok.en-1\n").ok();
        }
        assert_eq!(out.text(), "authorization: Bearer [redacted]\n");
    }
}
