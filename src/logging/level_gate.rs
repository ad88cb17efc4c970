//! Level filtering for one sink, done inside the sink.
//!
//! tracing-subscriber's per-layer filters keep per-thread state that a driver calling
//! `enabled` without emitting (as the PostgreSQL and MySQL drivers do) leaves dirty, and the
//! next span on that thread then goes unseen by some sinks: their records lose the run and
//! step ids. So every sink sees every span, and only its events are filtered, here.

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Passes to `inner` the events `targets` enables (minus the run-event mirror records when
/// `skip_target` names their target), and every span.
#[derive(Debug)]
pub struct LevelGate<L> {
    inner: L,
    targets: Targets,
    skip_target: Option<&'static str>,
}

impl<L> LevelGate<L> {
    pub fn new(inner: L, targets: Targets) -> Self {
        Self {
            inner,
            targets,
            skip_target: None,
        }
    }

    /// Also leaves out every event of `target`.
    #[must_use]
    pub fn skipping(mut self, target: &'static str) -> Self {
        self.skip_target = Some(target);
        self
    }
}

impl<S, L> Layer<S> for LevelGate<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        self.inner.on_new_span(attributes, id, context);
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, context: Context<'_, S>) {
        self.inner.on_record(span, values, context);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, context: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, context);
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let metadata = event.metadata();
        if self.skip_target == Some(metadata.target()) {
            return;
        }
        if self
            .targets
            .would_enable(metadata.target(), metadata.level())
        {
            self.inner.on_event(event, context);
        }
    }

    fn on_enter(&self, id: &Id, context: Context<'_, S>) {
        self.inner.on_enter(id, context);
    }

    fn on_exit(&self, id: &Id, context: Context<'_, S>) {
        self.inner.on_exit(id, context);
    }

    fn on_close(&self, id: Id, context: Context<'_, S>) {
        self.inner.on_close(id, context);
    }

    fn on_id_change(&self, old: &Id, new: &Id, context: Context<'_, S>) {
        self.inner.on_id_change(old, new, context);
    }
}
