//! Keeping passwords out of everything pipewright prints or writes.
//!
//! Two mechanisms: connection URLs redact their own password (`ConnectionUrl` never prints
//! it), and every secret value pipewright learns of (URL passwords, variables whose name says
//! they are secret) is registered here, so that output sinks can scrub it from any text.

use std::borrow::Cow;
use std::sync::RwLock;

/// What a redacted secret is replaced with.
pub const MASK: &str = "****";

/// Secrets shorter than this are not scrubbed from free text: replacing every `ab` in a log
/// would destroy the log and tell an attacker the secret's length anyway.
const MIN_SCRUBBED_LENGTH: usize = 4;

static REGISTERED: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers a secret so that [`redact`] removes it from any text, as written and, when it is
/// percent-encoded (a URL's password), decoded too.
pub fn register_secret(value: &str) {
    if let Some(decoded) = percent_decoded(value)
        && decoded != value
    {
        register_one(&decoded);
    }
    register_one(value);
}

fn register_one(value: &str) {
    if value.len() < MIN_SCRUBBED_LENGTH {
        return;
    }
    let mut registered = REGISTERED
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !registered.iter().any(|known| known == value) {
        registered.push(value.to_owned());
        // Longest first, so that a secret containing another is replaced whole.
        registered.sort_by_key(|known| std::cmp::Reverse(known.len()));
    }
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let registered = REGISTERED
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut output = Cow::Borrowed(text);
    for secret in registered.iter() {
        if output.contains(secret.as_str()) {
            output = Cow::Owned(output.replace(secret.as_str(), MASK));
        }
    }
    output
}

/// Whether a variable's name says it holds a secret (`DB_PASSWORD`, `API_TOKEN`, ...).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "PWD",
        "SECRET",
        "TOKEN",
        "CREDENTIAL",
        "PRIVATE_KEY",
        "API_KEY",
    ]
    .iter()
    .any(|marker| upper.contains(marker))
        && upper != "PWD"
        && upper != "OLDPWD"
}

/// The password of a URL's user info, if it has one.
pub fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let user_info = &rest[..user_info_end(rest)?];
    let (_, password) = user_info.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// Where the user info of what follows `scheme://` ends: its `@`. A password with a raw `/`,
/// `?` or `#` (not percent-encoded, as it should be) ends the authority early; the URL is then
/// malformed, but its password must still not show: the last `@` of the URL's first word
/// ends the user info.
fn user_info_end(rest: &str) -> Option<usize> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if let Some(at) = rest[..authority_end].rfind('@') {
        return Some(at);
    }
    let word_end = rest
        .find(|character: char| character.is_whitespace() || matches!(character, '"' | '\''))
        .unwrap_or(rest.len());
    rest[..word_end].rfind('@')
}

/// `%XX` sequences decoded, `None` if that does not make UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    if !text.contains('%') {
        return None;
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

/// Registers the passwords of every URL written in `text` (a manifest as written, before it is
/// parsed): an error that quotes a line of it must not show them.
pub fn register_url_secrets_in(text: &str) {
    let mut rest = text;
    while let Some(position) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-` and `.` right before `://`.
        let start = rest[..position]
            .char_indices()
            .rev()
            .find(|(_, character)| {
                !(character.is_ascii_alphanumeric() || "+-.".contains(*character))
            })
            .map_or(0, |(index, character)| index + character.len_utf8());
        let end = rest[position..]
            .find(|character: char| character.is_whitespace() || matches!(character, '"' | '\''))
            .map_or(rest.len(), |index| position + index);
        // A `${VARIABLE}` reference is not a password: its value is registered when the
        // variable is resolved.
        for secret in url_secrets(&rest[start..end]) {
            if !secret.contains("${") {
                register_secret(secret);
            }
        }
        rest = &rest[end.max(position + 3)..];
    }
}

/// Every secret a URL holds: the password of its user info and `password=` query values.
pub fn url_secrets(url: &str) -> Vec<&str> {
    let mut secrets: Vec<&str> = url_password(url).into_iter().collect();
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split(['&', '#']) {
            if let Some((key, value)) = pair.split_once('=')
                && key.eq_ignore_ascii_case("password")
                && !value.is_empty()
            {
                secrets.push(value);
            }
        }
    }
    secrets
}

/// A URL with the password of its user info and any `password=` query parameter masked.
pub fn redact_url(url: &str) -> String {
    let mut output = url.to_owned();
    if let Some(password) = url_password(url)
        && let Some((scheme, rest)) = url.split_once("://")
        && let Some(at) = user_info_end(rest)
    {
        let user_end = at - password.len() - 1;
        output = format!("{scheme}://{}:{MASK}{}", &rest[..user_end], &rest[at..]);
    }
    if let Some(query_start) = output.find('?') {
        let (base, query) = output.split_at(query_start + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={MASK}"),
                _ => pair.to_owned(),
            })
            .collect();
        output = format!("{base}{}", query.join("&"));
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_with_raw_delimiters_are_found() {
        let url = "postgres://pw:S3cr3t/sl?a#sh-7fq@127.0.0.1:5432/none";
        assert_eq!(url_password(url), Some("S3cr3t/sl?a#sh-7fq"));
        assert_eq!(redact_url(url), "postgres://pw:****@127.0.0.1:5432/none");
        register_url_secrets_in("url = \"mysql://u:An0ther%40Secret@h/db\" # x");
        register_url_secrets_in("é://u:Thi3rd-secret@h/db and ://alone é:// ");
        assert_eq!(
            redact("An0ther%40Secret and An0ther@Secret"),
            "**** and ****",
            "the written and the decoded form"
        );
    }

    #[test]
    fn redacts_url_passwords() {
        for (url, expected) in [
            (
                "postgres://u:s3cret@host:5432/db",
                "postgres://u:****@host:5432/db",
            ),
            ("postgres://u:p@ss@host/db", "postgres://u:****@host/db"),
            ("mysql://root@localhost/test", "mysql://root@localhost/test"),
            (
                "mysql://root:@localhost/test",
                "mysql://root:@localhost/test",
            ),
            ("sqlite://data/x.db", "sqlite://data/x.db"),
            (
                "postgres://h/db?user=u&password=pw&sslmode=require",
                "postgres://h/db?user=u&password=****&sslmode=require",
            ),
            ("postgres://u:pw@h/db?x=@y", "postgres://u:****@h/db?x=@y"),
        ] {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[test]
    fn finds_every_secret_of_a_url() {
        assert_eq!(
            url_secrets("postgres://u:pw1@h/db?password=pw2&x=1"),
            ["pw1", "pw2"]
        );
        assert!(url_secrets("sqlite://x.db").is_empty());
    }

    #[test]
    fn scrubs_registered_secrets_from_text() {
        register_secret("hunter2-for-test");
        register_secret("ab");
        assert_eq!(redact("login hunter2-for-test ok ab"), "login **** ok ab");
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_names() {
        for name in [
            "DB_PASSWORD",
            "api_token",
            "AWS_SECRET_ACCESS_KEY",
            "PGPASSWORD",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PWD", "HOME", "DB_HOST", "KEYSPACE"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }
}
