//! Log records as data (`LogRecord`): built from a tracing event and the run and step ids of
//! its spans, for the JSON-lines file and the database sink.

use std::fmt::Write as _;
use std::io::Write;

use chrono::Utc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::secrets::redact;
use crate::store::{LogRecord, StoreRecord, store_sink};

/// The run and step a span belongs to, kept in the span's extensions.
#[derive(Debug, Clone, Default)]
struct SpanIds {
    run_id: Option<String>,
    step_id: Option<String>,
}

impl Visit for SpanIds {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "run_id" => self.run_id = Some(format!("{value:?}")),
            "step_id" => self.step_id = Some(format!("{value:?}")),
            _ => {}
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "run_id" => self.run_id = Some(value.to_owned()),
            "step_id" => self.step_id = Some(value.to_owned()),
            _ => {}
        }
    }
}

/// The message and the other fields of an event.
#[derive(Debug, Default)]
struct EventFields {
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Visit for EventFields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields
                .insert(field.name().to_owned(), format!("{value:?}").into());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.insert(field.name().to_owned(), value.into());
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.insert(field.name().to_owned(), value.into());
    }
}

/// Remembers the run and step ids of every new span.
fn on_new_span<S>(attributes: &Attributes<'_>, id: &Id, context: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut ids = SpanIds::default();
    attributes.record(&mut ids);
    if (ids.run_id.is_some() || ids.step_id.is_some())
        && let Some(span) = context.span(id)
    {
        // Several layers record the same span: the last one wins, with the same ids.
        span.extensions_mut().replace(ids);
    }
}

/// Builds the record of an event: the innermost span's run and step ids, the message and
/// fields, secrets redacted.
fn build_record<S>(event: &Event<'_>, context: &Context<'_, S>) -> LogRecord
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut ids = SpanIds::default();
    let mut function = None;
    if let Some(scope) = context.event_scope(event) {
        for span in scope {
            if function.is_none() {
                function = Some(span.name().to_owned());
            }
            if let Some(found) = span.extensions().get::<SpanIds>() {
                ids.run_id = ids.run_id.or_else(|| found.run_id.clone());
                ids.step_id = ids.step_id.or_else(|| found.step_id.clone());
            }
        }
    }
    let mut fields = EventFields::default();
    event.record(&mut fields);
    // A step id passed as a field (`step = %id`) counts when no span says otherwise.
    if ids.step_id.is_none()
        && let Some(serde_json::Value::String(step)) = fields.fields.get("step")
    {
        ids.step_id = Some(step.clone());
    }
    let metadata = event.metadata();
    let mut details = fields.fields;
    // An `error` field is what SEED.md's logs kept as the exception: it goes there, once.
    let exception = match details.remove("error") {
        Some(serde_json::Value::String(error)) => Some(redact(&error).into_owned()),
        Some(other) => {
            details.insert("error".into(), other);
            None
        }
        None => None,
    };
    details.insert("target".into(), metadata.target().into());
    if let Some(file) = metadata.file() {
        details.insert("file".into(), file.into());
    }
    if let Some(line) = metadata.line() {
        details.insert("line".into(), line.into());
    }
    let details = serde_json::Value::Object(details);
    LogRecord {
        timestamp: Utc::now(),
        level: metadata.level().to_string(),
        module: metadata.module_path().map(str::to_owned),
        function,
        message: redact(&fields.message).into_owned(),
        exception,
        metadata: serde_json::from_str(&redact(&details.to_string())).unwrap_or(details),
        run_id: ids.run_id,
        step_id: ids.step_id,
    }
}

/// Writes every event as one JSON line.
#[derive(Debug)]
pub struct JsonLinesLayer<W> {
    writer: W,
}

impl<W> JsonLinesLayer<W> {
    pub fn new(writer: W) -> Self {
        Self { writer }
    }
}

impl<S, W> Layer<S> for JsonLinesLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        on_new_span(attributes, id, &context);
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let record = build_record(event, &context);
        if let Ok(mut line) = serde_json::to_vec(&record) {
            line.push(b'\n');
            let _ = self.writer.make_writer().write_all(&line);
        }
    }
}

/// Sends WARN+ records to the monitoring store's `logs` table. sqlx's own records and the
/// store writer's are left out, so the sink can never feed itself.
#[derive(Debug, Default)]
pub struct DatabaseLayer;

impl DatabaseLayer {
    fn is_own_traffic(target: &str) -> bool {
        target.starts_with("sqlx") || target.starts_with("pipewright::store")
    }
}

impl<S> Layer<S> for DatabaseLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        on_new_span(attributes, id, &context);
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        if Self::is_own_traffic(event.metadata().target()) {
            return;
        }
        store_sink::send(StoreRecord::Log(build_record(event, &context)));
    }
}
