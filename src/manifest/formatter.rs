//! The canonical layout of a manifest, for `pipewright fmt`: one way to write a pipeline, so that
//! pull requests show what changed and nothing else.
//!
//! The text is read into a small syntax tree that keeps every comment and the exact spelling of
//! every key and value, the keys and tables are put in the JSON Schema's order, and the tree is
//! printed in one layout. A tree of our own rather than `toml_edit`'s document: there a comment
//! is whitespace decor spread over neighbouring keys, here it belongs to exactly one key, table
//! header or array element, and moves with it. Whatever the layout does, the result must mean
//! what the source meant: both are read with `toml` and compared, and a difference is an error,
//! never a rewritten file.

use crate::manifest::KeyPath;
use crate::manifest::json_schema::known_keys;

/// The widest line an array of values is joined on; a longer one gets one element per line.
const MAX_WIDTH: usize = 100;

/// Indentation of the elements of a wrapped array of values (and of an inline table that has to
/// span lines to keep its comments).
const VALUE_INDENT: usize = 4;

/// Indentation of the elements of an array of inline tables, as the docs write `checks = [...]`.
const TABLE_INDENT: usize = 2;

/// The comment that points editors at the JSON Schema; it stays the first line of the file.
const SCHEMA_DIRECTIVE: &str = "#:schema";

/// Bytes that end a bare key.
const KEY_DELIMITERS: &[u8] = b".=,[]{} \t#\r\n\"'";

/// Bytes that end a number, boolean or date.
const VALUE_DELIMITERS: &[u8] = b"=,[]{} \t#\r\n\"'";

/// A manifest that cannot be formatted because it is not valid TOML.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FormatError {
    /// What is wrong, in the TOML parser's words.
    pub message: String,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
}

impl FormatError {
    fn from_toml(source: &str, error: &toml::de::Error) -> Self {
        Self {
            message: error.message().to_owned(),
            line: error.span().map(|span| line_of(source, span.start)),
        }
    }

    /// The safety net: the layout would have changed a value, so nothing is written.
    fn changed_meaning() -> Self {
        Self {
            message: "formatting would change what the manifest means, so it is left as written \
                      (a bug in `pipewright fmt`)"
                .to_owned(),
            line: None,
        }
    }
}

/// Formats a manifest's text in pipewright's canonical layout.
///
/// Comments are kept with the key, table header or array element they belong to; keys and
/// tables follow the JSON Schema's order (names of connections and steps keep the author's
/// order); strings, numbers, booleans and dates keep their spelling byte for byte. Formatting
/// formatted text changes nothing.
///
/// # Errors
///
/// When the text is not TOML (with the line of the problem), and, as a safety net, when the
/// formatted text would not mean what the source means.
pub fn format_manifest(source: &str) -> Result<String, FormatError> {
    let meaning = read_meaning(source).map_err(|error| FormatError::from_toml(source, &error))?;
    let lines = Parser::new(source).lines()?;
    let mut document = Document::assemble(lines);
    document.order_by_schema();
    let formatted = document.render();
    match read_meaning(&formatted) {
        Ok(formatted_meaning) if same_table(&meaning, &formatted_meaning) => Ok(formatted),
        _ => Err(FormatError::changed_meaning()),
    }
}

fn read_meaning(text: &str) -> Result<toml::Table, toml::de::Error> {
    toml::from_str(text)
}

/// Value equality, except that a float equals itself even when it is `nan`: the formatter never
/// rewrites a number, so the same spelling must give the same bits.
fn same_value(left: &toml::Value, right: &toml::Value) -> bool {
    match (left, right) {
        (toml::Value::Float(left), toml::Value::Float(right)) => left.to_bits() == right.to_bits(),
        (toml::Value::Array(left), toml::Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| same_value(left, right))
        }
        (toml::Value::Table(left), toml::Value::Table(right)) => same_table(left, right),
        _ => left == right,
    }
}

fn same_table(left: &toml::Table, right: &toml::Table) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .all(|(key, value)| right.get(key).is_some_and(|other| same_value(value, other)))
}

fn line_of(source: &str, offset: usize) -> usize {
    source
        .as_bytes()
        .iter()
        .take(offset)
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

/// Columns a piece of text takes on a line.
fn width(text: &str) -> usize {
    text.chars().count()
}

// ---------------------------------------------------------------------------------------------
// The syntax tree
// ---------------------------------------------------------------------------------------------

/// One line of a comment block: a comment, or a blank line the author left between comments.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CommentLine {
    Comment(String),
    Blank,
}

impl CommentLine {
    fn is_schema_directive(&self) -> bool {
        matches!(self, Self::Comment(text) if text.starts_with(SCHEMA_DIRECTIVE))
    }

    fn into_comment(self) -> Option<String> {
        match self {
            Self::Comment(text) => Some(text),
            Self::Blank => None,
        }
    }
}

/// A comment at the end of a line of code. The whitespace before it is kept, so that comments
/// an author aligned in a column stay aligned.
#[derive(Debug, Clone)]
struct TrailingComment {
    gap: String,
    text: String,
}

/// One part of a dotted key: as written (quotes and all), and the name it stands for.
#[derive(Debug, Clone)]
struct KeyPart {
    written: String,
    name: String,
}

impl KeyPart {
    fn new(written: &str) -> Self {
        Self {
            written: written.to_owned(),
            name: decode_key(written),
        }
    }
}

/// The name a key stands for: `"a"`, `'a'` and `a` are the same key, and a table is found by
/// its name, not its spelling.
fn decode_key(written: &str) -> String {
    if let Some(inner) = written
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return inner.to_owned();
    }
    if let Some(inner) = written
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        if !inner.contains('\\') {
            return inner.to_owned();
        }
        // Escapes in keys are rare; `toml` decodes them rather than a second decoder here.
        if let Ok(table) = toml::from_str::<toml::Table>(&format!("{written} = 0"))
            && let Some(name) = table.keys().next()
        {
            return name.clone();
        }
    }
    written.to_owned()
}

/// A key, dotted or not.
#[derive(Debug, Clone)]
struct Key {
    parts: Vec<KeyPart>,
}

impl Key {
    /// The key as written, without the spaces TOML allows around its dots.
    fn render(&self) -> String {
        self.parts
            .iter()
            .map(|part| part.written.as_str())
            .collect::<Vec<_>>()
            .join(".")
    }

    fn names(&self) -> Vec<String> {
        self.parts.iter().map(|part| part.name.clone()).collect()
    }

    /// The path of this key's value, for a key written in the table at `table`.
    fn path_from(&self, table: &KeyPath) -> KeyPath {
        self.parts
            .iter()
            .fold(table.clone(), |path, part| path.key(&part.name))
    }
}

/// A value. Strings, numbers, booleans and dates are kept as written: the formatter never
/// re-quotes, re-escapes or re-spells one.
#[derive(Debug, Clone)]
enum Value {
    Scalar(String),
    Array(Bracketed),
    InlineTable(Bracketed),
}

/// The inside of an array or an inline table.
#[derive(Debug, Clone, Default)]
struct Bracketed {
    /// A comment right after the opening bracket, on its line.
    opening_comment: Option<TrailingComment>,
    members: Vec<Member>,
    /// Comments after the last member, before the closing bracket.
    closing_comments: Vec<String>,
}

impl Bracketed {
    fn has_comments(&self) -> bool {
        self.opening_comment.is_some()
            || !self.closing_comments.is_empty()
            || self
                .members
                .iter()
                .any(|member| !member.comments.is_empty() || member.trailing_comment.is_some())
    }

    fn has_table_member(&self) -> bool {
        self.members
            .iter()
            .any(|member| matches!(member.value, Value::InlineTable(_)))
    }

    /// A comment met inside the brackets belongs to the member on its line, else to the opening
    /// bracket on the first line, else to the member that follows it.
    fn attach_comment(
        &mut self,
        comment: TrailingComment,
        member_on_line: Option<usize>,
        on_opening_line: bool,
        pending: &mut Vec<String>,
    ) {
        if let Some(member) = member_on_line.and_then(|index| self.members.get_mut(index)) {
            member.trailing_comment = Some(comment);
        } else if on_opening_line {
            self.opening_comment = Some(comment);
        } else {
            pending.push(comment.text);
        }
    }
}

/// An element of an array, or a `key = value` of an inline table.
#[derive(Debug, Clone)]
struct Member {
    comments: Vec<String>,
    key: Option<Key>,
    value: Value,
    trailing_comment: Option<TrailingComment>,
}

#[derive(Debug, Clone)]
struct KeyValue {
    key: Key,
    value: Value,
    trailing_comment: Option<TrailingComment>,
}

/// `[table]` or `[[array.of.tables]]`.
#[derive(Debug, Clone)]
struct Header {
    array: bool,
    key: Key,
    trailing_comment: Option<TrailingComment>,
}

/// A line of the document as the parser meets it, before comments are given to their owners.
#[derive(Debug, Clone)]
enum Line {
    Blank,
    Comment(String),
    Header(Header),
    KeyValue(KeyValue),
}

/// A `key = value` line of a table, with the comments above it.
#[derive(Debug, Clone)]
struct Entry {
    /// Where the entry was in its table, to tell whether it still follows the same neighbour.
    original_index: usize,
    /// The author left a blank line above the entry (or above its comments).
    blank_before: bool,
    comments: Vec<CommentLine>,
    key_value: KeyValue,
}

/// The `key = value` lines of a table, and the comments right under the last one.
#[derive(Debug, Clone, Default)]
struct Body {
    entries: Vec<Entry>,
    end_comments: Vec<String>,
}

/// A table with a header, and the comments above the header.
#[derive(Debug, Clone)]
struct Table {
    comments: Vec<CommentLine>,
    header: Header,
    body: Body,
}

#[derive(Debug, Clone, Default)]
struct Document {
    /// The comments that open the file (`#:schema`, an introduction); they stay on top.
    leading_comments: Vec<CommentLine>,
    /// Keys before the first table header.
    root: Body,
    tables: Vec<Table>,
    /// Comments at the end of the file, after a blank line.
    trailing_comments: Vec<CommentLine>,
}

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// Reads manifest text into [`Line`]s. `toml` has already accepted the text, so the parser only
/// has to find where things start and end; its errors are a safety net.
#[derive(Debug)]
struct Parser<'source> {
    source: &'source str,
    position: usize,
}

impl<'source> Parser<'source> {
    fn new(source: &'source str) -> Self {
        let byte_order_mark = '\u{feff}';
        let position = if source.starts_with(byte_order_mark) {
            byte_order_mark.len_utf8()
        } else {
            0
        };
        Self { source, position }
    }

    fn peek(&self) -> Option<u8> {
        self.source.as_bytes().get(self.position).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.source.as_bytes().get(self.position + offset).copied()
    }

    fn advance(&mut self, count: usize) {
        self.position = (self.position + count).min(self.source.len());
    }

    /// The text from `start` to here. Every caller stops on an ASCII byte or at the end, so both
    /// ends are character boundaries.
    fn text_from(&self, start: usize) -> &'source str {
        let source: &'source str = self.source;
        &source[start..self.position]
    }

    fn error(&self, message: &str) -> FormatError {
        FormatError {
            message: message.to_owned(),
            line: Some(line_of(self.source, self.position)),
        }
    }

    fn expect(&mut self, byte: u8, message: &str) -> Result<(), FormatError> {
        if self.peek() == Some(byte) {
            self.advance(1);
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    /// Moves past spaces and tabs, and returns them.
    fn skip_whitespace(&mut self) -> &'source str {
        let start = self.position;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.advance(1);
        }
        self.text_from(start)
    }

    /// Moves past the end of a line, or accepts the end of the text.
    fn line_break(&mut self) -> Result<(), FormatError> {
        match (self.peek(), self.peek_at(1)) {
            (None, _) => {}
            (Some(b'\n'), _) => self.advance(1),
            (Some(b'\r'), Some(b'\n')) => self.advance(2),
            _ => return Err(self.error("expected the end of the line")),
        }
        Ok(())
    }

    fn lines(mut self) -> Result<Vec<Line>, FormatError> {
        let mut lines = Vec::new();
        loop {
            self.skip_whitespace();
            match self.peek() {
                None => return Ok(lines),
                Some(b'\n' | b'\r') => {
                    self.line_break()?;
                    lines.push(Line::Blank);
                }
                Some(b'#') => {
                    lines.push(Line::Comment(self.comment()));
                    self.line_break()?;
                }
                Some(b'[') => lines.push(Line::Header(self.header()?)),
                Some(_) => lines.push(Line::KeyValue(self.key_value_line()?)),
            }
        }
    }

    /// A comment, from its `#` to the end of the line, without trailing whitespace.
    fn comment(&mut self) -> String {
        let start = self.position;
        while !matches!(self.peek(), None | Some(b'\n' | b'\r')) {
            self.advance(1);
        }
        self.text_from(start).trim_end().to_owned()
    }

    /// What may follow a header or a value on its line: whitespace and a comment.
    fn line_end(&mut self) -> Result<Option<TrailingComment>, FormatError> {
        let gap = self.skip_whitespace();
        let comment = if self.peek() == Some(b'#') {
            Some(TrailingComment {
                gap: gap.to_owned(),
                text: self.comment(),
            })
        } else {
            None
        };
        self.line_break()?;
        Ok(comment)
    }

    fn header(&mut self) -> Result<Header, FormatError> {
        self.advance(1);
        let array = self.peek() == Some(b'[');
        if array {
            self.advance(1);
        }
        let key = self.key()?;
        self.expect(b']', "expected `]` after the table name")?;
        if array {
            self.expect(b']', "expected `]]` after the array of tables' name")?;
        }
        let trailing_comment = self.line_end()?;
        Ok(Header {
            array,
            key,
            trailing_comment,
        })
    }

    fn key_value_line(&mut self) -> Result<KeyValue, FormatError> {
        let (key, value) = self.key_value()?;
        let trailing_comment = self.line_end()?;
        Ok(KeyValue {
            key,
            value,
            trailing_comment,
        })
    }

    fn key_value(&mut self) -> Result<(Key, Value), FormatError> {
        let key = self.key()?;
        self.expect(b'=', "expected `=` after the key")?;
        self.skip_whitespace();
        let value = self.value()?;
        Ok((key, value))
    }

    /// A key, dotted or not, and the whitespace around it.
    fn key(&mut self) -> Result<Key, FormatError> {
        let mut parts = Vec::new();
        loop {
            self.skip_whitespace();
            parts.push(self.simple_key()?);
            self.skip_whitespace();
            if self.peek() != Some(b'.') {
                return Ok(Key { parts });
            }
            self.advance(1);
        }
    }

    fn simple_key(&mut self) -> Result<KeyPart, FormatError> {
        let start = self.position;
        if matches!(self.peek(), Some(b'"' | b'\'')) {
            self.string()?;
        } else {
            while self
                .peek()
                .is_some_and(|byte| !KEY_DELIMITERS.contains(&byte))
            {
                self.advance(1);
            }
            if self.position == start {
                return Err(self.error("expected a key"));
            }
        }
        Ok(KeyPart::new(self.text_from(start)))
    }

    fn value(&mut self) -> Result<Value, FormatError> {
        let start = self.position;
        match self.peek() {
            Some(b'"' | b'\'') => {
                self.string()?;
                Ok(Value::Scalar(self.text_from(start).to_owned()))
            }
            Some(b'[') => Ok(Value::Array(self.bracketed(b']', false)?)),
            Some(b'{') => Ok(Value::InlineTable(self.bracketed(b'}', true)?)),
            _ => {
                self.scalar();
                if self.position == start {
                    return Err(self.error("expected a value"));
                }
                Ok(Value::Scalar(self.text_from(start).to_owned()))
            }
        }
    }

    /// A number, boolean or date. A local date and time may have a space between them
    /// (`1979-05-27 07:32:00`), so a space followed by more of the value continues it, as it
    /// does for TOML's own parser.
    fn scalar(&mut self) {
        let continues_value = |byte: u8| !VALUE_DELIMITERS.contains(&byte);
        loop {
            while self.peek().is_some_and(continues_value) {
                self.advance(1);
            }
            let end = self.position;
            self.skip_whitespace();
            let joined = self.position > end
                && self
                    .peek()
                    .is_some_and(|byte| byte != b'.' && continues_value(byte));
            if !joined {
                self.position = end;
                return;
            }
        }
    }

    /// Moves past a string of any of TOML's four kinds; its text is taken as written.
    fn string(&mut self) -> Result<(), FormatError> {
        let Some(quote) = self.peek() else {
            return Err(self.error("expected a string"));
        };
        let escapes = quote == b'"';
        if self.peek_at(1) == Some(quote) && self.peek_at(2) == Some(quote) {
            self.advance(3);
            self.multi_line_string_body(quote, escapes)
        } else {
            self.advance(1);
            self.single_line_string_body(quote, escapes)
        }
    }

    fn single_line_string_body(&mut self, quote: u8, escapes: bool) -> Result<(), FormatError> {
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.error("unterminated string")),
                Some(b'\\') if escapes => self.advance(2),
                Some(byte) if byte == quote => {
                    self.advance(1);
                    return Ok(());
                }
                Some(_) => self.advance(1),
            }
        }
    }

    fn multi_line_string_body(&mut self, quote: u8, escapes: bool) -> Result<(), FormatError> {
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated multi-line string")),
                Some(b'\\') if escapes => self.advance(2),
                Some(byte) if byte == quote => {
                    let run = self.source.as_bytes()[self.position..]
                        .iter()
                        .take_while(|&&next| next == quote)
                        .count();
                    // Up to two quotes of the content may come right before the closing three.
                    if run >= 3 {
                        self.advance(run.min(5));
                        return Ok(());
                    }
                    self.advance(run);
                }
                Some(_) => self.advance(1),
            }
        }
    }

    /// An array (`close` is `]`) or an inline table (`}`, members with keys), with the comments
    /// TOML allows inside them.
    fn bracketed(&mut self, close: u8, keyed: bool) -> Result<Bracketed, FormatError> {
        self.advance(1);
        let mut bracketed = Bracketed::default();
        let mut pending = Vec::new();
        let mut on_opening_line = true;
        let mut member_on_line = None;
        loop {
            let gap = self.skip_whitespace();
            match self.peek() {
                None => return Err(self.error("unclosed array or inline table")),
                Some(b'\n' | b'\r') => {
                    self.line_break()?;
                    on_opening_line = false;
                    member_on_line = None;
                }
                Some(b'#') => {
                    let comment = TrailingComment {
                        gap: gap.to_owned(),
                        text: self.comment(),
                    };
                    bracketed.attach_comment(
                        comment,
                        member_on_line,
                        on_opening_line,
                        &mut pending,
                    );
                }
                Some(b',') => self.advance(1),
                Some(byte) if byte == close => {
                    self.advance(1);
                    bracketed.closing_comments = pending;
                    return Ok(bracketed);
                }
                Some(_) => {
                    let (key, value) = if keyed {
                        let (key, value) = self.key_value()?;
                        (Some(key), value)
                    } else {
                        (None, self.value()?)
                    };
                    bracketed.members.push(Member {
                        comments: std::mem::take(&mut pending),
                        key,
                        value,
                        trailing_comment: None,
                    });
                    member_on_line = Some(bracketed.members.len() - 1);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Giving comments to their owners
// ---------------------------------------------------------------------------------------------

impl Document {
    /// Builds the document from its lines. A comment belongs to the key or header below it,
    /// with three exceptions: the comments that open the file, the comments right under a
    /// table's last key (followed by a blank line) which stay with that table, and the comments
    /// that close the file.
    fn assemble(lines: Vec<Line>) -> Self {
        let mut document = Self::default();
        let mut pending = Vec::new();
        let mut started = false;
        for line in lines {
            match line {
                Line::Blank => pending.push(CommentLine::Blank),
                Line::Comment(text) => pending.push(CommentLine::Comment(text)),
                Line::Header(header) => {
                    let block = std::mem::take(&mut pending);
                    let comments = if started {
                        let (end_comments, rest) = split_end_comments(block, false);
                        document.current_body().end_comments = end_comments;
                        rest
                    } else {
                        document.take_leading_comments(block)
                    };
                    document.tables.push(Table {
                        comments: tidy(comments),
                        header,
                        body: Body::default(),
                    });
                    started = true;
                }
                Line::KeyValue(key_value) => {
                    let block = std::mem::take(&mut pending);
                    let block = if started {
                        block
                    } else {
                        document.take_leading_comments(block)
                    };
                    let body = document.current_body();
                    body.entries.push(Entry {
                        original_index: body.entries.len(),
                        blank_before: block.first() == Some(&CommentLine::Blank),
                        comments: tidy(block),
                        key_value,
                    });
                    started = true;
                }
            }
        }
        if started {
            let (end_comments, rest) = split_end_comments(pending, true);
            document.current_body().end_comments = end_comments;
            document.trailing_comments = tidy_edges(rest);
        } else {
            document.leading_comments = tidy_edges(pending);
        }
        document
    }

    fn current_body(&mut self) -> &mut Body {
        self.tables
            .last_mut()
            .map_or(&mut self.root, |table| &mut table.body)
    }

    /// Keeps the file's opening comments and returns those that belong to the first key or
    /// header.
    fn take_leading_comments(&mut self, block: Vec<CommentLine>) -> Vec<CommentLine> {
        let (leading, rest) = split_leading_comments(block);
        self.leading_comments = tidy_edges(leading);
        rest
    }
}

/// Splits the comments before the first key or header: everything up to the last blank line
/// opens the file; what touches the first key or header belongs to it. A `#:schema` first line
/// opens the file even when nothing separates it from the first header.
fn split_leading_comments(block: Vec<CommentLine>) -> (Vec<CommentLine>, Vec<CommentLine>) {
    let split = match block.iter().rposition(|line| *line == CommentLine::Blank) {
        Some(index) => index + 1,
        None => usize::from(block.first().is_some_and(CommentLine::is_schema_directive)),
    };
    let mut leading = block;
    let rest = leading.split_off(split);
    (leading, rest)
}

/// Splits the comments after a table's last key: those right under it, up to a blank line,
/// stay with the table (a commented-out key, a closing note); the rest belong to the next
/// header. At the end of the file, comments right under the last key stay with its table.
fn split_end_comments(
    block: Vec<CommentLine>,
    at_end_of_file: bool,
) -> (Vec<String>, Vec<CommentLine>) {
    let split = match block.iter().position(|line| *line == CommentLine::Blank) {
        Some(index) => index,
        None if at_end_of_file => block.len(),
        None => 0,
    };
    let mut end = block;
    let rest = end.split_off(split);
    let end_comments = end
        .into_iter()
        .filter_map(CommentLine::into_comment)
        .collect();
    (end_comments, rest)
}

/// Drops blank lines at the start of a comment block and folds runs of them into one. A blank
/// line at the end stays: it separates the comments from the key or header they sit above.
fn tidy(block: Vec<CommentLine>) -> Vec<CommentLine> {
    let mut tidied: Vec<CommentLine> = Vec::with_capacity(block.len());
    for line in block {
        let redundant = line == CommentLine::Blank
            && tidied.last().is_none_or(|last| *last == CommentLine::Blank);
        if !redundant {
            tidied.push(line);
        }
    }
    tidied
}

/// [`tidy`], and no blank line at the end either: for the blocks that open and close the file.
fn tidy_edges(block: Vec<CommentLine>) -> Vec<CommentLine> {
    let mut tidied = tidy(block);
    if tidied.last() == Some(&CommentLine::Blank) {
        tidied.pop();
    }
    tidied
}

// ---------------------------------------------------------------------------------------------
// Ordering
// ---------------------------------------------------------------------------------------------

impl Document {
    /// Puts tables, keys and inline-table keys in schema order. Tables move as a whole, with
    /// the comments above their header, and a table's sub-tables follow it.
    fn order_by_schema(&mut self) {
        order_entries(&mut self.root.entries, &KeyPath::root());
        let mut tree = TableNode::default();
        for (index, table) in self.tables.iter().enumerate() {
            tree.insert(&table.header.key.names(), index, table.header.array);
        }
        let mut order = Vec::with_capacity(self.tables.len());
        tree.collect_order(&KeyPath::root(), &mut order);
        let mut slots: Vec<Option<Table>> = std::mem::take(&mut self.tables)
            .into_iter()
            .map(Some)
            .collect();
        for (index, path) in order {
            if let Some(mut table) = slots.get_mut(index).and_then(Option::take) {
                order_entries(&mut table.body.entries, &path);
                self.tables.push(table);
            }
        }
        // The walk places every table; one it missed would keep its place rather than be lost.
        self.tables.extend(slots.into_iter().flatten());
    }
}

/// The tables of a document as a tree of names, to move each table together with its
/// sub-tables. An array of tables has one element node per `[[header]]`, in the author's order:
/// that order is the array's.
#[derive(Debug, Default)]
struct TableNode {
    name: String,
    /// The index of the table whose header names this node, if one does.
    table: Option<usize>,
    children: Vec<TableNode>,
    elements: Vec<TableNode>,
}

impl TableNode {
    fn named(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Self::default()
        }
    }

    fn insert(&mut self, names: &[String], table: usize, array: bool) {
        let Some((first, rest)) = names.split_first() else {
            return;
        };
        let child = self.child(first);
        if rest.is_empty() {
            if array {
                child.elements.push(Self {
                    table: Some(table),
                    ..Self::named(first)
                });
            } else {
                child.table = Some(table);
            }
        } else if let Some(element) = child.elements.last_mut() {
            // A header under an array of tables extends its latest element.
            element.insert(rest, table, array);
        } else {
            child.insert(rest, table, array);
        }
    }

    fn child(&mut self, name: &str) -> &mut Self {
        let index = match self.children.iter().position(|child| child.name == name) {
            Some(index) => index,
            None => {
                self.children.push(Self::named(name));
                self.children.len() - 1
            }
        };
        &mut self.children[index]
    }

    /// Lists the tables depth first, children in schema order, and with the path of each.
    fn collect_order(&self, path: &KeyPath, order: &mut Vec<(usize, KeyPath)>) {
        if let Some(table) = self.table {
            order.push((table, path.clone()));
        }
        let known = known_keys(path);
        let mut children: Vec<&Self> = self.children.iter().collect();
        children.sort_by_key(|child| schema_rank(&known, &child.name));
        for child in children {
            let child_path = path.key(&child.name);
            child.collect_order(&child_path, order);
            for (index, element) in child.elements.iter().enumerate() {
                element.collect_order(&child_path.index(index), order);
            }
        }
    }
}

/// Where `name` comes among the keys the schema knows for its table; a key the schema does not
/// know comes after all of them.
fn schema_rank(known: &[String], name: &str) -> usize {
    known
        .iter()
        .position(|key| key == name)
        .unwrap_or(known.len())
}

/// Sorts a table's entries and, inside their values, the keys of inline tables.
fn order_entries(entries: &mut Vec<Entry>, path: &KeyPath) {
    sort_by_schema(entries, path, |entry| Some(&entry.key_value.key));
    for entry in entries {
        let value_path = entry.key_value.key.path_from(path);
        order_value(&mut entry.key_value.value, &value_path);
    }
}

fn order_value(value: &mut Value, path: &KeyPath) {
    match value {
        Value::Scalar(_) => {}
        Value::Array(array) => {
            for (index, member) in array.members.iter_mut().enumerate() {
                order_value(&mut member.value, &path.index(index));
            }
        }
        Value::InlineTable(table) => {
            sort_by_schema(&mut table.members, path, |member| member.key.as_ref());
            for member in &mut table.members {
                let member_path = member
                    .key
                    .as_ref()
                    .map_or_else(|| path.clone(), |key| key.path_from(path));
                order_value(&mut member.value, &member_path);
            }
        }
    }
}

/// Sorts keyed items (a table's entries, an inline table's members) into schema order. The
/// sort is stable: keys the schema does not know keep their order.
fn sort_by_schema<T>(items: &mut Vec<T>, path: &KeyPath, key_of: impl Fn(&T) -> Option<&Key>) {
    let names: Vec<Vec<String>> = items
        .iter()
        .map(|item| key_of(item).map_or_else(Vec::new, Key::names))
        .collect();
    let mut keyed: Vec<(Vec<(usize, usize)>, T)> = names
        .iter()
        .map(|item_names| sort_key(&names, item_names, path))
        .zip(std::mem::take(items))
        .collect();
    keyed.sort_by(|(left, _), (right, _)| left.cmp(right));
    items.extend(keyed.into_iter().map(|(_, item)| item));
}

/// Where a key, dotted or not, goes: at each of its levels, the rank of its name in the schema,
/// then where a key with the same prefix first appears. Unknown keys keep their order, and the
/// keys of one dotted table end up together.
fn sort_key(all: &[Vec<String>], names: &[String], path: &KeyPath) -> Vec<(usize, usize)> {
    let mut table_path = path.clone();
    let mut key = Vec::with_capacity(names.len());
    for (depth, name) in names.iter().enumerate() {
        let prefix = &names[..=depth];
        let first_seen = all
            .iter()
            .position(|other| other.starts_with(prefix))
            .unwrap_or_default();
        key.push((schema_rank(&known_keys(&table_path), name), first_seen));
        table_path = table_path.key(name);
    }
    key
}

// ---------------------------------------------------------------------------------------------
// Printing
// ---------------------------------------------------------------------------------------------

/// The lines of the formatted text. A line may hold line breaks of its own: those of a
/// multi-line string or a wrapped array.
#[derive(Debug, Default)]
struct Output {
    lines: Vec<String>,
}

impl Output {
    fn push(&mut self, line: String) {
        self.lines.push(line);
    }

    /// One blank line, never two in a row and never at the top.
    fn blank(&mut self) {
        if self.lines.last().is_some_and(|line| !line.is_empty()) {
            self.lines.push(String::new());
        }
    }

    fn comments(&mut self, block: &[CommentLine]) {
        for line in block {
            match line {
                CommentLine::Comment(text) => self.push(text.clone()),
                CommentLine::Blank => self.blank(),
            }
        }
    }

    fn finish(mut self) -> String {
        while self.lines.last().is_some_and(String::is_empty) {
            self.lines.pop();
        }
        if self.lines.is_empty() {
            return String::new();
        }
        let mut text = self.lines.join("\n");
        text.push('\n');
        text
    }
}

impl Document {
    fn render(&self) -> String {
        let mut output = Output::default();
        output.comments(&self.leading_comments);
        output.blank();
        render_body(&mut output, &self.root);
        for table in &self.tables {
            output.blank();
            output.comments(&table.comments);
            output.push(table.header.render());
            render_body(&mut output, &table.body);
        }
        if !self.trailing_comments.is_empty() {
            output.blank();
            output.comments(&self.trailing_comments);
        }
        output.finish()
    }
}

/// A table's entries without blank lines between them, except where the author left one
/// between two entries that are still neighbours.
fn render_body(output: &mut Output, body: &Body) {
    let mut previous: Option<usize> = None;
    for entry in &body.entries {
        let same_neighbour = previous.is_some_and(|index| index + 1 == entry.original_index);
        if entry.blank_before && same_neighbour {
            output.blank();
        }
        output.comments(&entry.comments);
        output.push(entry.key_value.render());
        previous = Some(entry.original_index);
    }
    for comment in &body.end_comments {
        output.push(comment.clone());
    }
}

impl Header {
    fn render(&self) -> String {
        let key = self.key.render();
        let mut line = if self.array {
            format!("[[{key}]]")
        } else {
            format!("[{key}]")
        };
        push_trailing_comment(&mut line, self.trailing_comment.as_ref());
        line
    }
}

impl KeyValue {
    fn render(&self) -> String {
        let mut line = format!("{} = ", self.key.render());
        let value = render_value(&self.value, 0, width(&line));
        line.push_str(&value);
        push_trailing_comment(&mut line, self.trailing_comment.as_ref());
        line
    }
}

fn push_trailing_comment(line: &mut String, comment: Option<&TrailingComment>) {
    if let Some(comment) = comment {
        line.push_str(if comment.gap.is_empty() {
            " "
        } else {
            &comment.gap
        });
        line.push_str(&comment.text);
    }
}

/// A value as it is printed on a line indented by `indent`, where `occupied` columns are taken
/// by the text before it (and the comma after it, in a wrapped array).
fn render_value(value: &Value, indent: usize, occupied: usize) -> String {
    match value {
        Value::Scalar(text) => text.clone(),
        Value::InlineTable(table) => {
            joined(value).unwrap_or_else(|| render_wrapped(table, indent, VALUE_INDENT, ('{', '}')))
        }
        Value::Array(array) if array.has_table_member() => {
            render_wrapped(array, indent, TABLE_INDENT, ('[', ']'))
        }
        Value::Array(array) => match joined(value) {
            Some(text) if array.members.is_empty() || fits(&text, occupied) => text,
            _ => render_wrapped(array, indent, VALUE_INDENT, ('[', ']')),
        },
    }
}

/// The value on one line (`["a", "b"]`, `{ a = 1, b = "x" }`), unless it holds comments,
/// which only fit when every element has a line of its own.
fn joined(value: &Value) -> Option<String> {
    match value {
        Value::Scalar(text) => Some(text.clone()),
        Value::Array(array) => {
            if array.has_comments() {
                return None;
            }
            let members = array
                .members
                .iter()
                .map(|member| joined(&member.value))
                .collect::<Option<Vec<_>>>()?;
            Some(format!("[{}]", members.join(", ")))
        }
        Value::InlineTable(table) => {
            if table.has_comments() {
                return None;
            }
            if table.members.is_empty() {
                return Some("{}".to_owned());
            }
            let members = table
                .members
                .iter()
                .map(|member| {
                    let key = member.key.as_ref()?.render();
                    Some(format!("{key} = {}", joined(&member.value)?))
                })
                .collect::<Option<Vec<_>>>()?;
            Some(format!("{{ {} }}", members.join(", ")))
        }
    }
}

/// Whether a joined value fits on its line. Only the first line counts: the lines of a
/// multi-line string inside it are the author's.
fn fits(text: &str, occupied: usize) -> bool {
    let first_line = text.lines().next().unwrap_or_default();
    occupied + width(first_line) <= MAX_WIDTH
}

/// One member per line, indented `step` columns more than the line the value starts on, each
/// followed by a comma; the closing bracket on a line of its own.
fn render_wrapped(
    bracketed: &Bracketed,
    indent: usize,
    step: usize,
    (open, close): (char, char),
) -> String {
    let member_indent = indent + step;
    let padding = " ".repeat(member_indent);
    let mut text = String::from(open);
    push_trailing_comment(&mut text, bracketed.opening_comment.as_ref());
    for member in &bracketed.members {
        for comment in &member.comments {
            text.push('\n');
            text.push_str(&padding);
            text.push_str(comment);
        }
        let mut line = padding.clone();
        if let Some(key) = &member.key {
            line.push_str(&key.render());
            line.push_str(" = ");
        }
        let value = render_value(&member.value, member_indent, width(&line) + 1);
        line.push_str(&value);
        line.push(',');
        push_trailing_comment(&mut line, member.trailing_comment.as_ref());
        text.push('\n');
        text.push_str(&line);
    }
    for comment in &bracketed.closing_comments {
        text.push('\n');
        text.push_str(&padding);
        text.push_str(comment);
    }
    text.push('\n');
    text.push_str(&" ".repeat(indent));
    text.push(close);
    text
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;

    fn format(source: &str) -> String {
        match format_manifest(source) {
            Ok(formatted) => formatted,
            Err(error) => panic!("cannot format: {error} (line {:?})\n{source}", error.line),
        }
    }

    /// Formats, and checks the two promises every layout keeps: formatting again changes
    /// nothing, and the manifest means what it meant.
    fn format_checked(source: &str) -> String {
        let formatted = format(source);
        assert_eq!(
            format(&formatted),
            formatted,
            "formatting is not idempotent"
        );
        assert_eq!(
            toml::from_str::<toml::Value>(&formatted).expect("the formatted text is TOML"),
            toml::from_str::<toml::Value>(source).expect("the source is TOML"),
            "formatting changed the meaning"
        );
        formatted
    }

    #[test]
    fn every_shipped_pipeline_formats_idempotently_and_keeps_its_meaning() {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut checked = 0;
        for entry in fs::read_dir(&directory).expect("pipelines/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|extension| extension != "toml") {
                continue;
            }
            let original = fs::read_to_string(&path).expect("a manifest is readable");
            let formatted = format_checked(&original);
            assert!(
                formatted.starts_with("#:schema "),
                "{}: the `#:schema` line moved",
                path.display()
            );
            checked += 1;
        }
        assert!(checked > 0, "no manifest found in {}", directory.display());
    }

    #[test]
    fn every_toml_example_in_the_docs_formats_idempotently_and_keeps_its_meaning() {
        let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        let mut checked = 0;
        for entry in fs::read_dir(&directory).expect("docs/ is readable") {
            let path = entry.expect("a directory entry").path();
            let Ok(text) = fs::read_to_string(&path) else {
                continue;
            };
            let mut block: Option<String> = None;
            for line in text.lines() {
                let fence = line.trim_start();
                match block.as_mut() {
                    None if fence.starts_with("```toml") => block = Some(String::new()),
                    None => {}
                    Some(_) if fence.starts_with("```") => {
                        let example = block.take().unwrap_or_default();
                        // Some examples show mistakes on purpose; only valid TOML is formatted.
                        if toml::from_str::<toml::Table>(&example).is_ok() {
                            format_checked(&example);
                            checked += 1;
                        }
                    }
                    Some(example) => {
                        example.push_str(line);
                        example.push('\n');
                    }
                }
            }
        }
        assert!(
            checked > 0,
            "no TOML example found in {}",
            directory.display()
        );
    }

    #[test]
    fn unusual_toml_formats_idempotently_and_keeps_its_meaning() {
        let sources = [
            "\u{feff}[pipeline]\nname = \"p\"\n",
            "[ steps . \"a b\" ]\n\tkind\t=\t\"sql\"\t# tabbed\n[steps.\"a b\".columns]\nx = {}\n",
            "[steps.\"\\u0061\"]\nkind = \"sql\"\n[steps.a.columns]\nx = {}\n",
            "[steps.a]\nkind = \"sql\"\nsql = \"a # not a comment [x] = {y}\"\n",
            "[steps.a]\nkind = \"sql\"\nsql = \"\"\"\nx\n\"\"\" # after the string\n",
            "[steps.a]\nwork = { a = 1, # one\n  b = [1,\n 2], # two\n}\nkind = \"x\"\n",
            "[steps.a]\nkind = \"bench\"\nworkload = {\n  warmup = 1,\n  kind = \"insert\",\n}\n",
            "steps.a.kind = \"sql\"\npipeline.name = \"p\"\n[steps.b]\nkind = \"sql\"\n",
            "[steps.a]\nkind = \"x\"\ne = []\nf = [ ]\ng = { }\nh = [ # c\n]\ni = [\n  # only\n]\n",
            "[steps.a]\nd1 = 1979-05-27T07:32:00Z\nd2 = [1979-05-27 07:32:00, 07:32:00]\nf = [inf, -inf, +1.5e-3]\n",
            "[steps.a]\nm = '''\nit'''''\nn = \"\"\"a\"\"\"\"\"\nz = \"\"\"\\\n   continued \\\"\"\" \\\\\"\"\"\n",
            "a = [\n  1, # one\n  [2, # two\n   3],\n]\nx = { a = { b = [{ d = 1 }, { e = 2 }] } }\n",
            "# head\n\n\n# first\n[steps.z]\nkind = \"x\"\n\n\n# tail 1\n\n# tail 2\n\n",
        ];
        for source in sources {
            format_checked(source);
        }
        // `nan` is not equal to itself, yet a manifest holding one still means what it meant.
        assert_eq!(format("x = [ nan ]\n"), "x = [nan]\n");
    }

    #[test]
    fn comments_move_with_their_keys() {
        let source = r#"[steps.load]
# the database written to
connection = "warehouse"      # the SQLite file
after = ["schema"]
kind = "sql" # comes first
"#;
        let expected = r#"[steps.load]
kind = "sql" # comes first
after = ["schema"]
# the database written to
connection = "warehouse"      # the SQLite file
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn keys_follow_the_schema_and_steps_keep_their_order() {
        let source = r#"[steps.load]
sql = "SELECT 1"
after = ["schema"]
connection = "warehouse"
kind = "sql"

[pipeline]
concurrency = 2
name = "daily"

[steps.schema]
dir = "migrations"
kind = "migrate"

[connections.warehouse]
url = "sqlite://warehouse.db"
"#;
        let expected = r#"[pipeline]
name = "daily"
concurrency = 2

[connections.warehouse]
url = "sqlite://warehouse.db"

[steps.load]
kind = "sql"
after = ["schema"]
connection = "warehouse"
sql = "SELECT 1"

[steps.schema]
kind = "migrate"
dir = "migrations"
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn inline_tables_follow_the_schema() {
        let source = r#"[steps.copy]
kind = "transform"
to = {mode="replace",connection = "warehouse"}
from = { table = "daily_bars", connection = "legacy" }
"#;
        let expected = r#"[steps.copy]
kind = "transform"
from = { connection = "legacy", table = "daily_bars" }
to = { connection = "warehouse", mode = "replace" }
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn unknown_keys_come_after_known_ones_in_their_own_order() {
        let source = r#"[steps.load]
zeta = 1
kind = "sql"
alpha = 2
connection = "warehouse"
"#;
        let expected = r#"[steps.load]
kind = "sql"
connection = "warehouse"
zeta = 1
alpha = 2
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn short_arrays_are_joined_and_long_ones_wrapped() {
        let source = r#"[steps.hello]
kind = "command"
tags = [
  "demo",
    "metrics"
]
run = ["echo", "a fairly long argument that is here to push the line", "well past one hundred columns"]
"#;
        let expected = r#"[steps.hello]
kind = "command"
tags = ["demo", "metrics"]
run = [
    "echo",
    "a fairly long argument that is here to push the line",
    "well past one hundred columns",
]
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn arrays_of_inline_tables_get_one_table_per_line() {
        let source = r#"[steps.check]
kind = "validate"
checks = [{columns = ["symbol"], kind = "not_null"}, { kind = "range", min = 0, column = "close" }]
"#;
        let expected = r#"[steps.check]
kind = "validate"
checks = [
  { kind = "not_null", columns = ["symbol"] },
  { kind = "range", column = "close", min = 0 },
]
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn comments_inside_arrays_keep_the_array_wrapped() {
        let source = r#"[steps.report]
kind = "command"
after = [ # what must be done first
    "load",   # the data
    # and the summary
    "summarise"
]
"#;
        let expected = r#"[steps.report]
kind = "command"
after = [ # what must be done first
    "load",   # the data
    # and the summary
    "summarise",
]
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn multi_line_strings_are_kept_byte_for_byte() {
        let sql = "\"\"\"\n  DELETE FROM t;   \n\tINSERT INTO t VALUES ('a = b', \"x\", \\\"\\\"\\\", 'y');\n\"\"\"\"";
        let literal = "'''\nSELECT 1 \\n # not a comment\n'''";
        let source =
            format!("[steps.load]\nsql = {sql}\nkind = \"sql\"\ndescription = {literal}\n");
        let formatted = format_checked(&source);
        assert!(formatted.contains(&format!("sql = {sql}\n")), "{formatted}");
        assert!(
            formatted.contains(&format!("description = {literal}\n")),
            "{formatted}"
        );
        assert!(
            formatted.starts_with("[steps.load]\nkind = \"sql\"\n"),
            "{formatted}"
        );
    }

    #[test]
    fn values_keep_their_spelling() {
        let source = r#"[steps.copy]
batch_size   =   10_000
kind = 'transform'
verify=true
"odd key" = 1979-05-27 07:32:00
other = [ 0x1F , 1e3, -0.0 ]
"#;
        let expected = r#"[steps.copy]
kind = 'transform'
batch_size = 10_000
verify = true
"odd key" = 1979-05-27 07:32:00
other = [0x1F, 1e3, -0.0]
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn blank_lines_are_canonical() {
        let source = "#:schema ../schemas/pipeline.schema.json\n# A pipeline.\n\n\n\n[pipeline]   \nname = \"p\"\n\n\ndescription = \"d\"\n[steps.a]\n\nkind = \"sql\"\n\nconnection = \"db\"\n\nafter = [\"b\"]\n\n\n";
        let expected = r#"#:schema ../schemas/pipeline.schema.json
# A pipeline.

[pipeline]
name = "p"

description = "d"

[steps.a]
kind = "sql"
after = ["b"]
connection = "db"
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn the_schema_line_stays_first() {
        let source = r#"#:schema ../schemas/pipeline.schema.json
[steps.a]
kind = "sql"

# The pipeline's name.
[pipeline]  # required
name = "p"
"#;
        let expected = r#"#:schema ../schemas/pipeline.schema.json

# The pipeline's name.
[pipeline]  # required
name = "p"

[steps.a]
kind = "sql"
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn comments_under_a_tables_last_key_stay_with_it() {
        let source = r#"[steps.a]
kind = "sql"
# retries = 3

# Settings.
[pipeline]
name = "p"
# the end
"#;
        let expected = r#"# Settings.
[pipeline]
name = "p"
# the end

[steps.a]
kind = "sql"
# retries = 3
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn sub_tables_follow_their_table_and_arrays_of_tables_keep_their_order() {
        let source = r#"[steps.copy.columns]
volume = { type = "BIGINT" }

[[steps.check.checks]]
columns = ["b"]
kind = "unique"

[steps.copy]
kind = "transform"

[[steps.check.checks]]
kind = "not_null"

[steps.check.checks.same_as]
table = "t"
connection = "legacy"
"#;
        let expected = r#"[steps.copy]
kind = "transform"

[steps.copy.columns]
volume = { type = "BIGINT" }

[[steps.check.checks]]
kind = "unique"
columns = ["b"]

[[steps.check.checks]]
kind = "not_null"

[steps.check.checks.same_as]
connection = "legacy"
table = "t"
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn dotted_keys_stay_dotted_and_together() {
        let source = r#"[steps.copy]
from.table = "t"
kind = "transform"
from.connection = "legacy"
"#;
        let expected = r#"[steps.copy]
kind = "transform"
from.connection = "legacy"
from.table = "t"
"#;
        assert_eq!(format_checked(source), expected);
    }

    #[test]
    fn invalid_toml_is_an_error_with_its_line() {
        let source = "[pipeline]\nname = \"p\"\n\n[steps.a]\nkind = = \"sql\"\n";
        let error = format_manifest(source).expect_err("not TOML");
        assert_eq!(error.line, Some(5));
        assert!(!error.message.is_empty());
    }

    #[test]
    fn an_empty_manifest_stays_empty() {
        assert_eq!(format_checked(""), "");
        assert_eq!(format_checked("\n\n  \n"), "");
        assert_eq!(
            format_checked("# only a comment  \n\n"),
            "# only a comment\n"
        );
    }

    #[test]
    fn windows_line_endings_become_unix_ones() {
        let source = "[pipeline]\r\nname = \"p\" # the name\r\n";
        assert_eq!(
            format_checked(source),
            "[pipeline]\nname = \"p\" # the name\n"
        );
    }
}
