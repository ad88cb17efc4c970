//! Database errors, with what was being done and whether a retry can help.

/// A failed database operation. Messages never contain a password: URLs are redacted and the
/// driver's text is scrubbed when the error is rendered.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot connect to `{connection}` ({url}) after {attempts} {}", if *.attempts == 1 { "attempt" } else { "attempts" })]
    Connect {
        connection: String,
        /// Redacted.
        url: String,
        attempts: u32,
        #[source]
        source: sqlx::Error,
    },

    #[error("connecting to `{connection}` timed out after {}", crate::values::HumanDuration::new(*.after))]
    ConnectTimeout {
        connection: String,
        after: std::time::Duration,
    },

    #[error("statement {index} of {total} failed: {preview}")]
    Statement {
        /// 1-based.
        index: usize,
        total: usize,
        /// The start of the statement, on one line.
        preview: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("{context}")]
    Query {
        context: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("cancelled")]
    Cancelled,

    #[error("cannot create the directory of SQLite database `{path}`")]
    SqliteDirectory {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl DbError {
    /// Whether trying again later can succeed: lost or refused connections, timeouts, a server
    /// starting up or out of connections, deadlocks and serialization failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Connect { source, .. }
            | Self::Statement { source, .. }
            | Self::Query { source, .. } => is_transient(source),
            Self::ConnectTimeout { .. } => true,
            Self::Cancelled | Self::SqliteDirectory { .. } => false,
        }
    }
}

/// Classifies a driver error.
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        // Lost, refused or timed-out connections; not TLS failures (a certificate that does not
        // verify will not verify on the next try), which arrive as `InvalidData`.
        sqlx::Error::Io(error) => {
            use std::io::ErrorKind;
            matches!(
                error.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::NotConnected
                    | ErrorKind::BrokenPipe
                    | ErrorKind::TimedOut
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::Interrupted
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            )
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database) => {
            let code = database.code().unwrap_or_default();
            let message = database.message();
            matches!(
                code.as_ref(),
                // PostgreSQL: serialization failure, deadlock, too many connections, server
                // starting or shutting down, connection failures. MySQL: deadlock (40001),
                // too many connections (08004).
                "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03" | "08000" | "08001"
                    | "08003" | "08004" | "08006"
                    // SQLite: busy and locked, with their extended codes.
                    | "5" | "6" | "261" | "262" | "517"
            ) || (code == "HY000" && message.contains("Lock wait timeout"))
        }
        _ => false,
    }
}

/// Whether a SQLite error says the database is locked by another connection (`SQLITE_BUSY`).
pub fn is_busy(error: &DbError) -> bool {
    let (DbError::Query { source, .. }
    | DbError::Statement { source, .. }
    | DbError::Connect { source, .. }) = error
    else {
        return false;
    };
    matches!(source, sqlx::Error::Database(database) if database.code().is_some_and(|code| matches!(code.as_ref(), "5" | "261" | "517")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_and_pool_timeouts_are_transient() {
        assert!(is_transient(&sqlx::Error::PoolTimedOut));
        assert!(is_transient(&sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused
        ))));
        assert!(!is_transient(&sqlx::Error::RowNotFound));
        assert!(!is_transient(&sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate"
        ))));
        assert!(!DbError::Cancelled.is_transient());
    }
}
