//! Seeds: what a run's fault schedule and target picks are drawn from, and the one range they
//! live in.
//!
//! Every seed chaosgate draws, derives or accepts is below 2^53 ([`MAX`]), so every JSON
//! reader reads it back exactly: jq, JavaScript and GitHub's `fromJSON` hold numbers as IEEE
//! doubles, and a seed above 2^53 read back and passed to `--seed` would replay a *different*
//! plan. Seeds are accepted as a number or as a decimal string (`seed: "42"`, `--seed 42`).

use serde::Deserializer;

/// The largest seed: 2^53 − 1, the largest integer an IEEE double holds exactly.
pub const MAX: u64 = (1 << 53) - 1;

/// A fresh random seed in `0..=MAX`, for a run given none.
pub fn draw() -> u64 {
    rand::random::<u64>() & MAX
}

/// The seeds of N runs: the first is `seed` itself (so `--repeat 1` replays `run`), the
/// others drawn from it by SplitMix64 and kept in `0..=MAX` — the same seed always gives the
/// same N seeds.
pub fn derive(seed: u64, n: usize) -> Vec<u64> {
    let mut state = seed;
    let mut out = vec![seed];
    while out.len() < n {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let next = (z ^ (z >> 31)) & MAX;
        if !out.contains(&next) {
            out.push(next);
        }
    }
    out
}

/// Why `value` is not a seed, in words for an error message; `None` when it is one.
pub fn check(value: u64) -> Option<String> {
    (value > MAX).then(|| {
        format!(
            "seed {value} is above 2^53 − 1 ({MAX}): JSON readers (jq, JavaScript, GitHub's \
             fromJSON) would read it back as another number, so the run could not be replayed"
        )
    })
}

/// `--seed`'s parser: a decimal integer in `0..=MAX`.
pub fn parse(s: &str) -> Result<u64, String> {
    let v: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 0 to {MAX}, got `{s}`"))?;
    match check(v) {
        Some(why) => Err(why),
        None => Ok(v),
    }
}

/// Deserializes an optional seed written as a number or as a decimal string, in `0..=MAX`.
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct SeedVisitor;
    impl serde::de::Visitor<'_> for SeedVisitor {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "a whole number from 0 to {MAX} (or the same as a string)"
            )
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            match check(v) {
                Some(why) => Err(E::custom(why)),
                None => Ok(Some(v)),
            }
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::custom(format!(
                    "seed {v} is negative: a seed is a whole number from 0 to {MAX}"
                ))),
            }
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Err(E::custom(format!(
                "seed {v} is not a whole number from 0 to {MAX}"
            )))
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse(v).map(Some).map_err(E::custom)
        }
    }
    d.deserialize_any(SeedVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_seeds_are_repeatable_distinct_and_exact_in_json() {
        assert_eq!(derive(42, 1), vec![42]);
        let a = derive(42, 50);
        assert_eq!(a, derive(42, 50));
        assert_eq!(a[0], 42);
        assert!(a.iter().all(|s| *s <= MAX));
        // Through an IEEE double and back, as jq or JavaScript read it.
        for s in &a {
            let text = serde_json::to_string(s).unwrap();
            let through_double: f64 = text.parse().unwrap();
            assert_eq!(through_double as u64, *s, "{s} does not survive a double");
        }
        assert_ne!(derive(43, 5)[1], a[1]);
    }

    #[test]
    fn drawn_seeds_fit_and_big_ones_are_refused() {
        for _ in 0..1000 {
            assert!(draw() <= MAX);
        }
        assert_eq!(parse("42"), Ok(42));
        assert_eq!(parse(&MAX.to_string()), Ok(MAX));
        let big = parse("18446744073709551615").unwrap_err();
        assert!(big.contains("2^53"), "{big}");
        assert!(parse("-1").is_err());
        assert!(parse("1e3").is_err());
    }
}
