//! Drawing one schedule from a fault space: how many faults, which templates, when, and a pick
//! for every range and choice — all from one seed, so the same seed draws the same schedule.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::explore::{Domain, ExploreSpace, Pick, ScheduledFault, millis_step};

/// Draws tried before giving up on a space whose schedules keep being invalid (e.g. every
/// template targets one service, so most schedules overlap on it).
pub const MAX_DRAWS: usize = 200;

/// The schedule `seed` draws from `space`: the first draw `valid` accepts (a draw is rejected
/// e.g. when two of its faults overlap on one service). `None` after [`MAX_DRAWS`] rejections.
/// Faults are sorted by start and named `<action>-<n>` in that order.
pub fn draw(
    space: &ExploreSpace,
    seed: u64,
    mut valid: impl FnMut(&[ScheduledFault]) -> bool,
) -> Option<Vec<ScheduledFault>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..MAX_DRAWS {
        let faults = one(space, &mut rng);
        if valid(&faults) {
            return Some(faults);
        }
    }
    None
}

fn one(space: &ExploreSpace, rng: &mut ChaCha8Rng) -> Vec<ScheduledFault> {
    let n = rng.random_range(space.min_faults..=space.max_faults) as usize;
    let (earliest, latest) = (
        space.window.0.as_millis() as u64,
        space.window.1.as_millis() as u64,
    );
    let step = millis_step(latest - earliest);
    let mut faults: Vec<ScheduledFault> = (0..n)
        .map(|_| {
            let template = rng.random_range(0..space.templates.len());
            let at = rng.random_range(earliest..=latest);
            // On the grid from the window's start, so that shrinking moves by whole steps.
            let at_ms = earliest + (at - earliest) / step * step;
            let picks = space.templates[template]
                .dims
                .iter()
                .map(|d| pick(&d.domain, rng))
                .collect();
            ScheduledFault {
                name: String::new(),
                template,
                at_ms,
                picks,
            }
        })
        .collect();
    faults.sort_by_key(|f| f.at_ms);
    for (i, f) in faults.iter_mut().enumerate() {
        f.name = format!("{}-{}", space.templates[f.template].action, i + 1);
    }
    faults
}

fn pick(domain: &Domain, rng: &mut ChaCha8Rng) -> Pick {
    match domain {
        Domain::Millis { low, high } => {
            Pick::Value(domain.round(rng.random_range(*low..=*high) as f64))
        }
        Domain::Number { low, high, .. } => {
            Pick::Value(domain.round(rng.random_range(*low..=*high)))
        }
        Domain::Choice(c) => Pick::Choice(rng.random_range(0..c.len())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::Path;

    /// A space over a small compose file, for the engine's tests.
    pub(crate) fn space() -> (crate::scenario::Scenario, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "chaosgate-explore-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("c.yml"),
            "services:\n  a: { image: x, ports: ['8080'], environment: { F: \"${GATEWAY_FAILOVER:-on}\" } }\n  b: { image: x }\n  r: { image: x }\n",
        )
        .unwrap();
        let text = "name: t\nstack: { compose: c.yml }\n\
            load: { requests: [{ url: 'http://a:8080/' }], rate: 10/s, duration: 20s }\n\
            slos: ['error_rate(phase=whole) < 1%']\n\
            explore:\n  faults: { min: 1, max: 3 }\n  window: [2s, 12s]\n  space:\n\
            \x20   - { action: crash, target: { service: [a, b] } }\n\
            \x20   - { action: pause, duration: [1s, 6s], target: { service: [r] } }\n";
        let path = dir.join("s.yaml");
        std::fs::write(&path, text).unwrap();
        let s = crate::scenario::load(&path).unwrap();
        (s, dir)
    }

    fn valid(s: &crate::scenario::Scenario) -> impl FnMut(&[ScheduledFault]) -> bool + '_ {
        move |f| {
            s.explore
                .as_ref()
                .unwrap()
                .scenario(f, 1, Path::new(&s.path))
                .is_ok()
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_schedule_and_others_differ() {
        let (s, dir) = space();
        let space = s.explore.as_ref().unwrap();
        let a = draw(space, 42, valid(&s)).unwrap();
        let b = draw(space, 42, valid(&s)).unwrap();
        assert_eq!(a, b);
        let others: Vec<_> = (0..20)
            .map(|seed| draw(space, seed, valid(&s)).unwrap())
            .collect();
        assert!(others.iter().any(|o| *o != a));
        for o in &others {
            assert!((1..=3).contains(&o.len()));
            for f in o {
                assert!((2000..=12000).contains(&f.at_ms), "{f:?}");
                assert_eq!(f.at_ms % 100, 0);
            }
            assert!(o.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_drawn_schedule_is_an_ordinary_scenario() {
        let (s, dir) = space();
        let space = s.explore.as_ref().unwrap();
        let faults = draw(space, 7, valid(&s)).unwrap();
        let concrete = space.scenario(&faults, 7, &s.path).unwrap();
        assert!(concrete.explore.is_none());
        assert_eq!(concrete.seed, Some(7));
        assert_eq!(concrete.faults.len(), faults.len());
        for (f, c) in faults.iter().zip(&concrete.faults) {
            assert_eq!(f.name, c.name);
            assert_eq!(c.at.earliest().as_millis() as u64, f.at_ms);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
