//! Which room a user visits: `--rooms` names, picked uniformly or with Zipf popularity
//! (room k, from 1, with weight 1/k), by a cumulative table and a binary search.

use rand::Rng;

use crate::opts::Popularity;

/// The room population of one run.
#[derive(Debug, Clone)]
pub struct Rooms {
    /// Distinguishes this run's rooms from any other run's on a shared backend.
    run: u32,
    /// Cumulative weights, the last one 1.0.
    cumulative: Vec<f64>,
}

impl Rooms {
    pub fn new(count: u32, popularity: Popularity, run: u32) -> Self {
        let weights: Vec<f64> = (1..=count)
            .map(|k| match popularity {
                Popularity::Uniform => 1.0,
                Popularity::Zipf => 1.0 / f64::from(k),
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let mut sum = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                sum += w / total;
                sum
            })
            .collect();
        Self { run, cumulative }
    }

    /// A room index drawn from the popularity.
    pub fn pick(&self, rng: &mut impl Rng) -> u32 {
        let x: f64 = rng.random();
        let i = self.cumulative.partition_point(|c| *c < x);
        i.min(self.cumulative.len() - 1) as u32
    }

    /// The name of room `index`: letters, digits and `_`, as the tutorial's route accepts.
    pub fn name(&self, index: u32) -> String {
        format!("jr{:08x}_{index}", self.run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn zipf_favours_the_first_rooms_and_uniform_does_not() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut count = |p| {
            let rooms = Rooms::new(10, p, 1);
            let mut n = [0u32; 10];
            for _ in 0..20_000 {
                n[rooms.pick(&mut rng) as usize] += 1;
            }
            n
        };
        let zipf = count(Popularity::Zipf);
        // Weight 1/1 against 1/10 of a total 2.93: 34 % and 3.4 %.
        assert!(zipf[0] > 6_000 && zipf[9] < 1_000, "{zipf:?}");
        let uniform = count(Popularity::Uniform);
        assert!(
            uniform.iter().all(|n| (1_600..2_400).contains(n)),
            "{uniform:?}"
        );
        assert_eq!(
            Rooms::new(3, Popularity::Zipf, 0xab).name(2),
            "jr000000ab_2"
        );
    }
}
