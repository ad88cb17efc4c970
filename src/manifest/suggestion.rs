//! "Did you mean" for every name a user can mistype.

/// The closest candidate within an edit distance of 2 (1 for names of up to three characters;
/// a difference of case only counts as 0), or `None` when nothing is close. Ties go to the earliest candidate, so suggestions are stable.
pub fn did_you_mean<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = if candidate.eq_ignore_ascii_case(input) {
            0
        } else {
            edit_distance(input, candidate)
        };
        // Short names are too easy to confuse, and replacing every character is no typo.
        let longest = input.chars().count().max(candidate.chars().count());
        let limit = if longest <= 3 { 1 } else { 2 };
        let plausible = distance <= limit && (distance < longest || distance == 0);
        if plausible && best.is_none_or(|(best_distance, _)| distance < best_distance) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Names other tools use for pipewright's keys (dbt, Airflow, GitHub Actions, docker compose),
/// and the pipewright key each one means.
const ALIASES: &[(&str, &str)] = &[
    ("depends_on", "after"),
    ("dependencies", "after"),
    ("depends", "after"),
    ("needs", "after"),
    ("requires", "after"),
    ("upstream", "after"),
    ("command", "run"),
    ("cmd", "run"),
    ("args", "run"),
    ("script", "shell"),
    ("cwd", "workdir"),
    ("working_dir", "workdir"),
    ("working_directory", "workdir"),
    ("environment", "env"),
    ("retry", "retries"),
    ("max_retries", "retries"),
    ("tag", "tags"),
    ("disabled", "enabled"),
    ("conn", "connection"),
    ("database", "connection"),
    ("db", "connection"),
    ("threads", "concurrency"),
    ("parallelism", "concurrency"),
    ("max_parallel", "concurrency"),
    ("type", "kind"),
    ("query", "sql"),
];

/// The key another tool's name stands for, if `input` is (a typo of) such a name and that key
/// is among `candidates`.
fn alias_for<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    let normalized = input.to_ascii_lowercase().replace('-', "_");
    ALIASES
        .iter()
        .filter(|(alias, _)| edit_distance(&normalized, alias) <= usize::from(alias.len() > 4))
        .find_map(|(_, key)| {
            candidates
                .iter()
                .find(|candidate| *candidate == key)
                .copied()
        })
}

/// A `help` text for an unknown name: the suggestion if one is close, otherwise the list of
/// valid names when it is short enough to read.
pub fn help_for_unknown<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Option<String> {
    if let Some(suggestion) = did_you_mean(input, candidates.clone()) {
        return Some(format!("did you mean `{suggestion}`?"));
    }
    if let Some(key) = alias_for(input, candidates.clone()) {
        return Some(format!("did you mean `{key}`?"));
    }
    let all: Vec<&str> = candidates.into_iter().collect();
    match all.len() {
        1..=12 => Some(format!(
            "expected one of {}",
            all.iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    }
}

/// Levenshtein distance over characters.
pub fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    let mut current = vec![0; right.len() + 1];
    for (row, left_char) in left.chars().enumerate() {
        current[0] = row + 1;
        for (column, right_char) in right.iter().enumerate() {
            let substitution = previous[column] + usize::from(left_char != *right_char);
            current[column + 1] = substitution
                .min(previous[column + 1] + 1)
                .min(current[column] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_table() {
        for (left, right, expected) in [
            ("", "", 0),
            ("after", "after", 0),
            ("afetr", "after", 2),
            ("depens_on", "after", 8),
            ("kitten", "sitting", 3),
            ("conection", "connection", 1),
            ("é", "e", 1),
        ] {
            assert_eq!(edit_distance(left, right), expected, "{left} -> {right}");
        }
    }

    #[test]
    fn suggests_the_closest_name_only_when_close() {
        let keys = ["after", "tags", "timeout", "retries"];
        assert_eq!(did_you_mean("afer", keys), Some("after"));
        assert_eq!(did_you_mean("retry", keys), None);
        assert_eq!(did_you_mean("retires", keys), Some("retries"));
        assert_eq!(did_you_mean("TAGS", keys), Some("tags"));
        assert_eq!(did_you_mean("depens_on", keys), None);
        assert_eq!(did_you_mean("x", ["a", "xy"]), Some("xy"));
    }

    #[test]
    fn names_from_other_tools_suggest_ours() {
        let keys = ["kind", "after", "run", "shell", "workdir", "retries"];
        for (input, expected) in [
            ("depens_on", "after"),
            ("depends_on", "after"),
            ("needs", "after"),
            ("cwd", "workdir"),
            ("script", "shell"),
            ("retry", "retries"),
        ] {
            assert_eq!(
                help_for_unknown(input, keys).as_deref(),
                Some(format!("did you mean `{expected}`?").as_str()),
                "{input}"
            );
        }
        // An alias whose key the table does not have suggests nothing from the alias list.
        assert_eq!(alias_for("needs", ["url"]), None);
    }

    #[test]
    fn help_lists_short_candidate_lists() {
        assert_eq!(
            help_for_unknown("zzz", ["bars", "plain"]).as_deref(),
            Some("expected one of `bars`, `plain`")
        );
        assert_eq!(
            help_for_unknown("bar", ["bars", "plain"]).as_deref(),
            Some("did you mean `bars`?")
        );
    }
}
