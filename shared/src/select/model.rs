//! How likely a test is to matter to a change, from the signals' evidence: a logistic
//! model that starts from a prior and learns online from every change whose relevant
//! tests became known (in replay, the tests the change modified; in the farm, the tests
//! that failed). Its output is a probability, so that what is left out can be stated as
//! a risk, and a confidence turned into a cut-off.

use serde::{Deserialize, Serialize};

use super::cochange::CoChangeEvidence;
use super::depmap::Link;

/// Everything the signals say about one test file and one change.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Evidence {
    /// Named after a changed file (`Cite.php` → `CiteTest.php`).
    pub name: bool,
    /// Its static link to a changed file, if any.
    pub link: Option<Link>,
    pub cochange: CoChangeEvidence,
    /// How alike its path is to the closest changed file's (0–1, word overlap).
    pub similarity: f64,
    /// How many commits changed the test file.
    pub test_changes: u32,
    /// Commits since it last changed (None: never seen changing).
    pub since_changed: Option<u32>,
    /// Source files the change touches.
    pub changed_sources: usize,
    /// Times it failed in the farm's runs after a change to one of these files.
    pub failures_with: u32,
    /// How many of the changed files it names directly, and in `@covers`.
    pub names_changed: u32,
    pub covers_changed: u32,
    /// Test files of the suite in this test's component (core, or one extension or
    /// skin): the more there are, the less likely any one without evidence matters.
    pub suite: usize,
    /// Whether it lies in the component of a changed file.
    pub same_component: bool,
}

impl Evidence {
    /// No signal says anything for this test.
    pub fn is_silent(&self) -> bool {
        !self.name
            && self.link.is_none()
            && self.cochange.count == 0
            && self.similarity < 0.5
            && self.failures_with == 0
    }
}

const FEATURES: usize = 22;

fn features(e: &Evidence) -> [f64; FEATURES] {
    let d = e.link.as_ref().map(|l| l.distance);
    let recency = |since: Option<u32>, scale: f64| since.map_or(0.0, |n| (-f64::from(n) / scale).exp());
    let flag = |b: bool| f64::from(u8::from(b));
    let sources = (e.changed_sources.max(1)) as f64;
    [
        1.0,
        flag(e.name),
        flag(e.link.as_ref().is_some_and(|l| l.covers)),
        flag(d == Some(1)),
        flag(d == Some(2)),
        flag(d.is_some_and(|d| d >= 3)),
        f64::from(e.cochange.count).ln_1p(),
        e.cochange.share,
        e.similarity,
        f64::from(e.test_changes).ln_1p(),
        recency(e.since_changed, 50.0),
        sources.ln(),
        f64::from(e.failures_with).ln_1p(),
        f64::from(e.names_changed) / sources,
        f64::from(e.covers_changed) / sources,
        recency(e.cochange.since, 100.0),
        recency(e.since_changed, 3.0),
        e.cochange.weight.ln_1p(),
        flag(e.is_silent()),
        flag(e.is_silent()) * (e.suite.max(1) as f64).ln(),
        flag(d.is_some_and(|d| d >= 3)) * (e.suite.max(1) as f64).ln(),
        flag(e.is_silent() && !e.same_component),
    ]
}

/// The prior: what the signals are worth before anything is learnt, in log-odds.
const PRIOR: [f64; FEATURES] = [
    -4.0, 2.0, 2.0, 1.5, 0.8, 0.3, 1.5, 2.5, 1.5, 0.2, 0.8, 0.3, 2.0, 1.0, 1.0, 0.5, 0.5, 1.0, -1.0, -0.5, -0.3, -6.0,
];

/// Examples kept for refitting: the newest, enough for a few hundred changes.
const KEPT: usize = 50_000;
/// Passes over the kept examples after each change.
const EPOCHS: usize = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    weights: Vec<f64>,
    /// AdaGrad's running sum of squared gradients, one per weight.
    squared: Vec<f64>,
    /// Changes learnt from.
    pub learnt: u32,
    /// What it was fitted to (not stored: a profile keeps the weights).
    #[serde(skip)]
    examples: Vec<([f64; FEATURES], bool)>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            weights: PRIOR.to_vec(),
            squared: vec![1.0; FEATURES],
            learnt: 0,
            examples: Vec::new(),
        }
    }
}

const RATE: f64 = 0.05;
/// Pull towards the prior, so a few odd changes do not undo it.
const TO_PRIOR: f64 = 1e-3;

impl Model {
    /// The probability that the test matters to the change.
    pub fn probability(&self, e: &Evidence) -> f64 {
        self.predict(&features(e))
    }

    fn predict(&self, x: &[f64; FEATURES]) -> f64 {
        let z: f64 = self.weights.iter().zip(x).map(|(w, x)| w * x).sum();
        1.0 / (1.0 + (-z).exp())
    }

    /// Learns from one change: each candidate's evidence, and whether it mattered.
    /// The model is refitted over every example kept, newest last.
    pub fn learn<'e>(&mut self, outcomes: impl IntoIterator<Item = (&'e Evidence, bool)>) {
        if self.weights.len() != FEATURES || self.squared.len() != FEATURES {
            *self = Model::default();
        }
        self.examples
            .extend(outcomes.into_iter().map(|(e, m)| (features(e), m)));
        if self.examples.len() > KEPT {
            let extra = self.examples.len() - KEPT;
            self.examples.drain(..extra);
        }
        let examples = std::mem::take(&mut self.examples);
        for _ in 0..EPOCHS {
            for (x, mattered) in &examples {
                let error = self.predict(x) - f64::from(u8::from(*mattered));
                for i in 0..FEATURES {
                    let g = error * x[i] + TO_PRIOR * (self.weights[i] - PRIOR[i]);
                    self.squared[i] += g * g;
                    self.weights[i] -= RATE * g / self.squared[i].sqrt();
                }
            }
        }
        self.examples = examples;
        self.learnt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct() -> Evidence {
        Evidence {
            link: Some(Link {
                distance: 1,
                covers: false,
                via: "a".into(),
            }),
            changed_sources: 1,
            same_component: true,
            ..Evidence::default()
        }
    }

    #[test]
    fn evidence_raises_the_probability() {
        let m = Model::default();
        let none = Evidence {
            changed_sources: 1,
            ..Evidence::default()
        };
        let named = Evidence { name: true, ..direct() };
        assert!(m.probability(&none) < m.probability(&direct()));
        assert!(m.probability(&direct()) < m.probability(&named));
        assert!(m.probability(&none) < 0.05);
    }

    #[test]
    fn learning_moves_towards_what_happened() {
        let mut m = Model::default();
        let e = direct();
        let before = m.probability(&e);
        for _ in 0..50 {
            m.learn([(&e, false)]);
        }
        assert!(m.probability(&e) < before);
        let mut m2 = Model::default();
        for _ in 0..50 {
            m2.learn([(&e, true)]);
        }
        assert!(m2.probability(&e) > before);
        assert_eq!(m2.learnt, 50);
    }
}
