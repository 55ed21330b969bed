//! The smaller schedules a failing one is shrunk through, simplest first (as QuickCheck's
//! shrinking): drop a fault; take a choice's first value (`service: [a, b]` → `a`); move a
//! quantity to its range's low end, then halfway there; move the whole schedule to the
//! window's start; move one fault's start to the window's start, then halfway there. Each
//! candidate is strictly smaller in one of these measures and never larger in another, so
//! shrinking ends.

use crate::scenario::explore::{ExploreSpace, Pick, ScheduledFault, compact, render_millis};

/// One smaller schedule and the step that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// What changed, e.g. `drop pause-2` or `crash-1: at 6.3s → 2s`.
    pub step: String,
    /// The schedule after the step (names kept, so the trace reads across steps).
    pub faults: Vec<ScheduledFault>,
}

/// Every one-step-smaller schedule of `faults`, in the order they are tried.
pub fn candidates(space: &ExploreSpace, faults: &[ScheduledFault]) -> Vec<Candidate> {
    let mut out = Vec::new();
    if faults.len() > 1 {
        for (i, f) in faults.iter().enumerate() {
            let mut smaller = faults.to_vec();
            smaller.remove(i);
            out.push(Candidate {
                step: format!("drop {}", f.name),
                faults: smaller,
            });
        }
    }
    // Choices before ranges: a simpler target is the bigger simplification.
    for (i, f) in faults.iter().enumerate() {
        let dims = &space.templates[f.template].dims;
        for (k, (dim, pick)) in dims.iter().zip(&f.picks).enumerate() {
            if let Pick::Choice(c) = pick
                && *c > 0
            {
                out.push(with_pick(space, faults, i, k, Pick::Choice(0), &dim.path));
            }
        }
    }
    for (i, f) in faults.iter().enumerate() {
        let dims = &space.templates[f.template].dims;
        for (k, (dim, pick)) in dims.iter().zip(&f.picks).enumerate() {
            let Pick::Value(v) = *pick else { continue };
            let Pick::Value(low) = dim.domain.lowest() else {
                continue;
            };
            if v > low {
                out.push(with_pick(space, faults, i, k, Pick::Value(low), &dim.path));
                let half = dim.domain.round(low + (v - low) / 2.0);
                if half > low && half < v {
                    out.push(with_pick(space, faults, i, k, Pick::Value(half), &dim.path));
                }
            }
        }
    }
    let start = space.window.0.as_millis() as u64;
    if let Some(first) = faults.iter().map(|f| f.at_ms).min()
        && first > start
    {
        let shift = first - start;
        let mut earlier = faults.to_vec();
        for f in &mut earlier {
            f.at_ms -= shift;
        }
        out.push(Candidate {
            step: format!("every fault {} earlier", render_millis(shift)),
            faults: earlier,
        });
    }
    let step = crate::scenario::explore::millis_step(
        (space.window.1.as_millis() as u64).saturating_sub(start),
    );
    for (i, f) in faults.iter().enumerate() {
        if f.at_ms <= start {
            continue;
        }
        let half = start + (f.at_ms - start) / 2 / step * step;
        let mut targets = vec![start];
        if half > start && half < f.at_ms {
            targets.push(half);
        }
        for to in targets {
            let mut moved = faults.to_vec();
            moved[i].at_ms = to;
            moved.sort_by_key(|f| f.at_ms);
            out.push(Candidate {
                step: format!(
                    "{}: at {} → {}",
                    f.name,
                    render_millis(f.at_ms),
                    render_millis(to)
                ),
                faults: moved,
            });
        }
    }
    out.dedup_by(|a, b| a.faults == b.faults);
    out
}

fn with_pick(
    space: &ExploreSpace,
    faults: &[ScheduledFault],
    i: usize,
    k: usize,
    pick: Pick,
    path: &[String],
) -> Candidate {
    let dim = &space.templates[faults[i].template].dims[k];
    let from = compact(&dim.domain.render(faults[i].picks[k]));
    let to = compact(&dim.domain.render(pick));
    let mut changed = faults.to_vec();
    changed[i].picks[k] = pick;
    Candidate {
        step: format!("{}: {} {from} → {to}", faults[i].name, path.join(".")),
        faults: changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_go_from_dropping_to_moving_and_each_is_smaller() {
        let (s, dir) = super::super::draw::tests::space();
        let space = s.explore.as_ref().unwrap();
        let faults = vec![
            ScheduledFault {
                name: "pause-1".into(),
                template: 1,
                at_ms: 5000,
                picks: vec![Pick::Value(4000.0), Pick::Choice(0)],
            },
            ScheduledFault {
                name: "crash-2".into(),
                template: 0,
                at_ms: 6000,
                picks: vec![Pick::Choice(1)],
            },
        ];
        let steps: Vec<String> = candidates(space, &faults)
            .into_iter()
            .map(|c| c.step)
            .collect();
        assert_eq!(
            steps,
            [
                "drop pause-1",
                "drop crash-2",
                "crash-2: target.service b → a",
                "pause-1: duration 4s → 1s",
                "pause-1: duration 4s → 2.5s",
                "every fault 3s earlier",
                "pause-1: at 5s → 2s",
                "pause-1: at 5s → 3.5s",
                "crash-2: at 6s → 2s",
                "crash-2: at 6s → 4s",
            ]
        );
        // The simplest schedule has nothing left to shrink.
        let simplest = vec![ScheduledFault {
            name: "crash-2".into(),
            template: 0,
            at_ms: 2000,
            picks: vec![Pick::Choice(0)],
        }];
        assert!(candidates(space, &simplest).is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
