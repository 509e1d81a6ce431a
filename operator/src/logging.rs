//! Log output: human-readable text (colour only on a terminal) or one JSON object per line with
//! top-level `ts`, `level`, `target`, `msg`, the event's fields and the fields of every span it
//! is in (`spans` names them, outermost first). Every line passes through the redactor.

use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::redact::{RedactingWriter, Redactor};

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Install the global subscriber: `filter` (e.g. from `RUST_LOG`), `format`, on stdout.
pub fn init(filter: tracing_subscriber::EnvFilter, format: LogFormat) {
    let writer = RedactingWriter::new(std::io::stdout, Redactor::from_env());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .init(),
        LogFormat::Text => builder.with_ansi(std::io::stdout().is_terminal()).init(),
    }
}

/// The JSON line format (span fields must be recorded with [`JsonFields`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "ts".into(),
            Value::String(k8s_openapi::jiff::Timestamp::now().to_string()),
        );
        line.insert(
            "level".into(),
            Value::String(meta.level().as_str().to_ascii_lowercase()),
        );
        line.insert("target".into(), Value::String(meta.target().to_string()));
        if let Some(scope) = ctx.event_scope() {
            let mut names = Vec::new();
            for span in scope.from_root() {
                names.push(Value::String(span.name().to_string()));
                let extensions = span.extensions();
                let fields = extensions
                    .get::<FormattedFields<JsonFields>>()
                    .and_then(|f| serde_json::from_str::<Map<String, Value>>(f.as_str()).ok());
                line.extend(fields.unwrap_or_default());
            }
            line.insert("spans".into(), Value::Array(names));
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Records an event's fields into the line; `message` becomes `msg`.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let key = match field.name() {
            "message" => "msg",
            name => name,
        };
        self.0.insert(key.to_string(), value);
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Buffer;

    #[test]
    fn json_lines_have_top_level_msg_level_target_and_span_fields() {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .fmt_fields(JsonFields::new())
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("reconcile", network = "default", cause = ?1);
            let _in = span.enter();
            tracing::warn!(writes = 3u64, "the network is stalled");
        });
        let text = buffer.text();
        let line: Value = serde_json::from_str(text.trim()).expect("one JSON line");
        assert_eq!(line["msg"], "the network is stalled", "{line}");
        assert_eq!(line["level"], "warn");
        assert_eq!(line["target"], module_path!());
        assert_eq!(line["network"], "default", "span fields at the top level");
        assert_eq!(line["writes"], 3);
        assert_eq!(line["spans"], serde_json::json!(["reconcile"]));
        assert!(line.get("fields").is_none() && !text.contains('\u{1b}'));
    }
}
