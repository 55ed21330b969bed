//! "Did you mean": the known name closest to a misspelt one.

/// The candidate closest to `word` by edit distance (letter case ignored), when it is close
/// enough to be a misspelling: at most a third of the word's length, and at least one edit.
/// Ties go to the first candidate.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = distance(&word, &c.to_lowercase());
        if d <= limit && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_misspelling_finds_its_name_and_a_stranger_finds_none() {
        let known = ["GATEWAY_FAILOVER", "GATEWAY_FAILOVER_DELAY", "GATEWAY_LOG"];
        assert_eq!(closest("GATEWAY_FAILOVR", known), Some("GATEWAY_FAILOVER"));
        assert_eq!(
            closest("gateway_failover_dely", known),
            Some("GATEWAY_FAILOVER_DELAY")
        );
        assert_eq!(closest("TYPO", known), None);
        assert_eq!(closest("A", ["B"]), Some("B"));
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
