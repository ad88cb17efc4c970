//! A writer that scrubs registered secrets from every record before it reaches a file.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use crate::secrets::redact;

/// Wraps a [`MakeWriter`]; each record is redacted and written in one piece.
#[derive(Debug, Clone)]
pub struct Redacting<M>(pub M);

/// One record on its way through [`Redacting`].
#[derive(Debug)]
pub struct RedactingWriter<W: Write> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        if !self.buffer.is_empty() {
            let text = String::from_utf8_lossy(&self.buffer);
            let _ = self.inner.write_all(redact(&text).as_bytes());
            let _ = self.inner.flush();
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.0.make_writer(),
            buffer: Vec::new(),
        }
    }
}
