//! The console log sink's writer: one record at a time, secrets scrubbed, around the bars.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use crate::report::console::write_stderr;
use crate::secrets::redact;

/// Hands out a buffer per log record and writes it to stderr in one piece when done.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleWriter;

/// One log record being formatted.
#[derive(Debug, Default)]
pub struct RecordBuffer(Vec<u8>);

impl Write for RecordBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RecordBuffer {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let text = String::from_utf8_lossy(&self.0);
            write_stderr(redact(&text).as_bytes());
        }
    }
}

impl<'a> MakeWriter<'a> for ConsoleWriter {
    type Writer = RecordBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        RecordBuffer::default()
    }
}
