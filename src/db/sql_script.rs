//! Splitting a SQL script into statements: `;` ends a statement except inside strings, quoted
//! identifiers, comments and PostgreSQL dollar-quoted bodies. The dialect decides the details:
//! MySQL escapes quotes with a backslash and starts comments with `#`; standard SQL (PostgreSQL,
//! SQLite) does neither, except in PostgreSQL's `E'...'` strings.

use crate::pipeline::Driver;

/// Where a statement is in the compound bodies of triggers, procedures and functions
/// (`BEGIN ... END`, `BEGIN ATOMIC ... END`), whose inner `;` do not end the statement.
#[derive(Debug, Default)]
struct Blocks {
    /// The first words of the statement, upper-cased, to recognise `CREATE ... TRIGGER`.
    leading: Vec<String>,
    /// Whether the statement creates something with a body.
    has_body: bool,
    depth: u32,
    /// The previous word was `END`: the next one may name what it ends (`END IF`).
    after_end: bool,
}

impl Blocks {
    fn word(&mut self, word: &str) {
        let upper = word.to_ascii_uppercase();
        if self.leading.len() < 8 {
            self.leading.push(upper.clone());
            self.has_body = self.leading.first().is_some_and(|first| first == "CREATE")
                && self.leading.iter().any(|word| {
                    matches!(
                        word.as_str(),
                        "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT"
                    )
                });
        }
        if !self.has_body {
            return;
        }
        if self.after_end {
            self.after_end = false;
            // `END IF`, `END LOOP`, ... close blocks that were not counted; `END CASE` closes
            // the CASE that was.
            if matches!(upper.as_str(), "IF" | "LOOP" | "WHILE" | "REPEAT") {
                self.depth += 1;
                return;
            }
            if upper == "CASE" {
                return;
            }
        }
        match upper.as_str() {
            "BEGIN" | "CASE" => self.depth += 1,
            "END" => {
                self.depth = self.depth.saturating_sub(1);
                self.after_end = true;
            }
            _ => {}
        }
    }

    fn inside(&self) -> bool {
        self.depth > 0
    }
}

/// The statements of `script` as `driver` reads it, trimmed, empty ones (and comment-only ones)
/// left out. `DELIMITER` (a MySQL client command) is not supported; bodies of triggers,
/// procedures and functions are recognised without it.
pub fn split_statements(script: &str, driver: Driver) -> Vec<String> {
    let mysql = driver == Driver::MySql;
    let bytes = script.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut index = 0;
    let mut blocks = Blocks::default();
    while index < bytes.len() {
        match bytes[index] {
            byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                let end = bytes[index..]
                    .iter()
                    .position(|byte| {
                        !(byte.is_ascii_alphanumeric() || *byte == b'_' || *byte == b'$')
                    })
                    .map_or(bytes.len(), |length| index + length);
                blocks.word(&script[index..end]);
                index = end;
            }
            b'\'' | b'"' | b'`' => {
                let escapes = mysql || (bytes[index] == b'\'' && is_escape_string(bytes, index));
                index = skip_quoted(bytes, index, escapes);
            }
            b'-' if bytes.get(index + 1) == Some(&b'-') => index = skip_line(bytes, index),
            b'#' if mysql && is_mysql_comment_start(bytes, index) => {
                index = skip_line(bytes, index);
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => index = skip_block_comment(bytes, index),
            b'$' if !mysql => index = skip_dollar_quoted(script, index),
            b';' if blocks.inside() => index += 1,
            b';' => {
                push_statement(&mut statements, &script[start..index]);
                index += 1;
                start = index;
                blocks = Blocks::default();
            }
            _ => index += 1,
        }
    }
    push_statement(&mut statements, &script[start..]);
    statements
}

/// Whether a statement inserts, updates or deletes rows: only those count as "rows affected"
/// (drivers report a number for other statements too, and not the same number everywhere).
pub fn modifies_rows(statement: &str) -> bool {
    const WRITES: [&str; 6] = ["INSERT", "UPDATE", "DELETE", "REPLACE", "MERGE", "UPSERT"];
    let code = code_words(statement);
    // A write keyword followed by `(` is a function (`REPLACE(name, 'a', 'b')`).
    let is_write = |(word, call): &(String, bool)| !call && WRITES.contains(&word.as_str());
    let mut words = code.iter();
    match words.next() {
        Some(first) if is_write(first) => true,
        // `WITH ... INSERT/UPDATE/DELETE`: a data-modifying common table expression.
        Some((first, _)) if first == "WITH" => words.any(is_write),
        _ => false,
    }
}

/// The words of a statement outside comments, string literals and quoted identifiers, in
/// upper case, each with whether `(` follows it.
fn code_words(statement: &str) -> Vec<(String, bool)> {
    let bytes = statement.as_bytes();
    let mut words = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'-' if bytes.get(index + 1) == Some(&b'-') => index = skip_line(bytes, index),
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index = skip_block_comment(bytes, index);
            }
            quote @ (b'\'' | b'"' | b'`') => {
                index += 1;
                while index < bytes.len() {
                    if bytes[index] == quote {
                        // A doubled quote is one quote inside the literal.
                        if bytes.get(index + 1) == Some(&quote) {
                            index += 2;
                            continue;
                        }
                        break;
                    }
                    index += 1;
                }
                index += 1;
            }
            byte if byte.is_ascii_alphanumeric() || byte == b'_' => {
                let start = index;
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_')
                {
                    index += 1;
                }
                let word = statement[start..index].to_ascii_uppercase();
                let mut next = index;
                while next < bytes.len() && bytes[next].is_ascii_whitespace() {
                    next += 1;
                }
                words.push((word, bytes.get(next) == Some(&b'(')));
            }
            _ => index += 1,
        }
    }
    words
}

fn push_statement(statements: &mut Vec<String>, text: &str) {
    let trimmed = text.trim();
    if !trimmed.is_empty() && !is_only_comments(trimmed) {
        statements.push(trimmed.to_owned());
    }
}

fn is_only_comments(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            byte if byte.is_ascii_whitespace() => index += 1,
            b'-' if bytes.get(index + 1) == Some(&b'-') => index = skip_line(bytes, index),
            b'/' if bytes.get(index + 1) == Some(&b'*') => index = skip_block_comment(bytes, index),
            _ => return false,
        }
    }
    true
}

/// `#` starts a comment in MySQL only at the start of a token, never inside a word such as a
/// PostgreSQL `#>` operator operand; treating `#` after whitespace or at the start as a comment
/// is the safe reading for scripts of either dialect.
fn is_mysql_comment_start(bytes: &[u8], index: usize) -> bool {
    (index == 0 || bytes[index - 1].is_ascii_whitespace())
        && !matches!(bytes.get(index + 1), Some(b'>' | b'-' | b'#'))
}

/// PostgreSQL's `E'...'` (or `e'...'`) strings escape with a backslash.
fn is_escape_string(bytes: &[u8], quote: usize) -> bool {
    quote > 0
        && matches!(bytes[quote - 1], b'E' | b'e')
        && (quote == 1 || !(bytes[quote - 2].is_ascii_alphanumeric() || bytes[quote - 2] == b'_'))
}

fn skip_quoted(bytes: &[u8], start: usize, backslash_escapes: bool) -> usize {
    let quote = bytes[start];
    let mut index = start + 1;
    while index < bytes.len() {
        if backslash_escapes && bytes[index] == b'\\' {
            index += 2;
            continue;
        }
        if bytes[index] == quote {
            if bytes.get(index + 1) == Some(&quote) {
                index += 2;
                continue;
            }
            return index + 1;
        }
        index += 1;
    }
    bytes.len()
}

fn skip_line(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|byte| *byte == b'\n')
        .map_or(bytes.len(), |offset| start + offset + 1)
}

fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut index = start + 2;
    while index + 1 < bytes.len() {
        if bytes[index] == b'*' && bytes[index + 1] == b'/' {
            return index + 2;
        }
        index += 1;
    }
    bytes.len()
}

/// `$tag$ ... $tag$` (PostgreSQL). A `$` that does not open such a quote (a `$1` parameter) is
/// an ordinary character.
fn skip_dollar_quoted(script: &str, start: usize) -> usize {
    let rest = &script[start + 1..];
    let tag_length = rest
        .bytes()
        .take_while(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
        .count();
    let opens = rest.as_bytes().get(tag_length) == Some(&b'$')
        && !rest[..tag_length].starts_with(|character: char| character.is_ascii_digit());
    if !opens {
        return start + 1;
    }
    let delimiter = &script[start..start + tag_length + 2];
    let body_start = start + delimiter.len();
    script[body_start..]
        .find(delimiter)
        .map_or(script.len(), |offset| body_start + offset + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_semicolons_outside_quotes_comments_and_bodies() {
        let script = r"
            -- a comment; not a statement end
            CREATE TABLE t (id int, note text DEFAULT 'a;b');
            INSERT INTO t VALUES (1, 'it''s; fine'), (2, E'x\';y');
            /* block; comment */
            CREATE FUNCTION f() RETURNS trigger AS $body$
            BEGIN
              PERFORM 1; RETURN NEW;
            END;
            $body$ LANGUAGE plpgsql;
            SELECT $$a;b$$, $1::int;
            SELECT `weird;name` FROM t -- trailing; comment
            ;
            -- only a comment at the end;
        ";
        let statements = split_statements(script, Driver::Postgres);
        assert_eq!(statements.len(), 5, "{statements:#?}");
        assert!(statements[0].starts_with("-- a comment; not a statement end\n"));
        assert!(statements[0].ends_with("DEFAULT 'a;b')"));
        assert!(statements[1].ends_with("(2, E'x\\';y')"));
        assert!(statements[2].starts_with("/* block; comment */"));
        assert!(statements[2].contains("PERFORM 1; RETURN NEW;"));
        assert!(statements[2].ends_with("LANGUAGE plpgsql"));
        assert_eq!(statements[3], "SELECT $$a;b$$, $1::int");
        assert!(statements[4].starts_with("SELECT `weird;name` FROM t"));
    }

    #[test]
    fn backslashes_and_hashes_follow_the_dialect() {
        // Standard SQL: a backslash is an ordinary character, `#` an operator.
        let standard =
            "INSERT INTO paths VALUES ('C:\\'); SELECT '{\"a\":1}'::jsonb #> '{a}'; SELECT 2";
        assert_eq!(split_statements(standard, Driver::Postgres).len(), 3);
        assert_eq!(split_statements(standard, Driver::Sqlite).len(), 3);
        // MySQL: `\'` is a quote inside the string, `#` starts a comment.
        let mysql = "INSERT INTO t VALUES ('it\\'s; fine'); # a comment; still\nSELECT 2";
        assert_eq!(
            split_statements(mysql, Driver::MySql),
            [
                "INSERT INTO t VALUES ('it\\'s; fine')",
                "# a comment; still\nSELECT 2"
            ]
        );
        // PostgreSQL's escape strings.
        assert_eq!(
            split_statements("SELECT E'a\\';b'; SELECT 1", Driver::Postgres).len(),
            2
        );
    }

    #[test]
    fn trigger_procedure_and_function_bodies_stay_whole() {
        let sqlite = "CREATE TABLE a (x INT);\nCREATE TRIGGER copy AFTER INSERT ON a BEGIN\n  INSERT INTO b VALUES (NEW.x);\n  UPDATE c SET n = CASE WHEN n > 0 THEN n + 1 ELSE 1 END;\nEND;\nINSERT INTO a VALUES (1);";
        let statements = split_statements(sqlite, Driver::Sqlite);
        assert_eq!(statements.len(), 3, "{statements:#?}");
        assert!(statements[1].ends_with("END"));
        let mysql = "CREATE PROCEDURE p()\nBEGIN\n  DECLARE x INT DEFAULT 0;\n  IF x = 0 THEN SELECT 1; END IF;\n  CASE x WHEN 0 THEN SELECT 2; ELSE SELECT 3; END CASE;\n  l: LOOP LEAVE l; END LOOP l;\nEND;\nCALL p();";
        let statements = split_statements(mysql, Driver::MySql);
        assert_eq!(statements.len(), 2, "{statements:#?}");
        let atomic = "CREATE FUNCTION one() RETURNS int LANGUAGE SQL BEGIN ATOMIC SELECT 1; END; SELECT one();";
        assert_eq!(split_statements(atomic, Driver::Postgres).len(), 2);
        // A transaction in a script is not a body.
        assert_eq!(
            split_statements("BEGIN; INSERT INTO a VALUES (1); COMMIT;", Driver::Sqlite).len(),
            3
        );
    }

    #[test]
    fn only_writes_count_rows() {
        for (statement, writes) in [
            ("INSERT INTO t VALUES (1)", true),
            ("  update t set x = 1", true),
            ("-- note\nDELETE FROM t", true),
            (
                "WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone",
                true,
            ),
            ("SELECT * FROM t", false),
            ("CREATE TABLE t (id int)", false),
            ("WITH x AS (SELECT 1) SELECT * FROM x", false),
            ("/* header */ INSERT INTO t VALUES (1)", true),
            (
                "WITH x AS (SELECT 'delete me' AS note) SELECT * FROM x",
                false,
            ),
            (
                "WITH x AS (SELECT REPLACE(name, 'a', 'b') FROM t) SELECT * FROM x",
                false,
            ),
            (
                "WITH x AS (SELECT \"update\" FROM t) SELECT * FROM x",
                false,
            ),
        ] {
            assert_eq!(modifies_rows(statement), writes, "{statement}");
        }
    }

    #[test]
    fn scripts_without_a_final_semicolon_and_empty_scripts() {
        assert_eq!(split_statements("select 1", Driver::Postgres), ["select 1"]);
        assert_eq!(
            split_statements("select 1;;\n;select 2;", Driver::Postgres),
            ["select 1", "select 2"]
        );
        assert!(split_statements("  \n-- nothing\n/* at all */", Driver::Postgres).is_empty());
    }

    #[test]
    fn unterminated_quotes_do_not_panic() {
        assert_eq!(
            split_statements("select 'open;", Driver::Postgres),
            ["select 'open;"]
        );
        assert_eq!(
            split_statements("select $x$ open;", Driver::Postgres),
            ["select $x$ open;"]
        );
        assert_eq!(
            split_statements("select /* open;", Driver::Postgres),
            ["select /* open;"]
        );
    }
}
