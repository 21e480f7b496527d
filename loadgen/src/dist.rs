//! Distributions of whole numbers (message sizes in bytes), written on a command line as
//! `64`, `uniform:32..512`, `lognormal:median=80,sigma=1[,min=48][,max=4096]`,
//! `zipf:s=1.1,min=2,max=2000` or `weighted:60*9,2000*1`, and sampled from a seeded generator
//! so that a run is reproducible. The samplers are `rand_distr`'s.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand::distr::weighted::WeightedIndex;
use rand_distr::{Distribution, LogNormal, Zipf};

/// A distribution over whole numbers, bounded on both sides.
#[derive(Debug, Clone, PartialEq)]
pub enum Dist {
    /// Always this value.
    Fixed(u64),
    /// Every value from `min` to `max` (inclusive) equally likely.
    Uniform { min: u64, max: u64 },
    /// Log-normal with this median and shape (`sigma`, of the logarithm), rounded and clamped
    /// into `min..=max`: most values near the median, a long tail of large ones.
    LogNormal {
        median: f64,
        sigma: f64,
        min: u64,
        max: u64,
    },
    /// Zipf over `min..=max` with exponent `s`: `min` the most likely, each next value less so.
    Zipf { s: f64, min: u64, max: u64 },
    /// Each value with its weight.
    Weighted(Vec<(u64, f64)>),
}

/// A distribution that cannot be read or cannot be sampled; the text says which and how to
/// write it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{text:?}: {why} (write 64, uniform:32..512, lognormal:median=80,sigma=1,max=4096, zipf:s=1.1,min=2,max=2000 or weighted:60*9,2000*1)"
)]
pub struct DistError {
    text: String,
    why: String,
}

impl Dist {
    /// The smallest value a sample can take.
    pub fn min(&self) -> u64 {
        match self {
            Self::Fixed(v) => *v,
            Self::Uniform { min, .. } | Self::LogNormal { min, .. } | Self::Zipf { min, .. } => {
                *min
            }
            Self::Weighted(values) => values.iter().map(|(v, _)| *v).min().unwrap_or(0),
        }
    }

    /// The largest value a sample can take.
    pub fn max(&self) -> u64 {
        match self {
            Self::Fixed(v) => *v,
            Self::Uniform { max, .. } | Self::LogNormal { max, .. } | Self::Zipf { max, .. } => {
                *max
            }
            Self::Weighted(values) => values.iter().map(|(v, _)| *v).max().unwrap_or(0),
        }
    }

    /// One sample.
    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        match self {
            Self::Fixed(v) => *v,
            Self::Uniform { min, max } => rng.random_range(*min..=*max),
            Self::LogNormal {
                median,
                sigma,
                min,
                max,
            } => {
                let d = LogNormal::new(median.ln(), *sigma).expect("checked when parsed");
                (d.sample(rng).round() as u64).clamp(*min, *max)
            }
            Self::Zipf { s, min, max } => {
                let d = Zipf::new((max - min + 1) as f64, *s).expect("checked when parsed");
                min + d.sample(rng) as u64 - 1
            }
            Self::Weighted(values) => {
                let d = WeightedIndex::new(values.iter().map(|(_, w)| *w))
                    .expect("checked when parsed");
                values[d.sample(rng)].0
            }
        }
    }
}

impl FromStr for Dist {
    type Err = DistError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let err = |why: &str| DistError {
            text: text.into(),
            why: why.into(),
        };
        let whole = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| err(&format!("{v:?} is not a whole number")))
        };
        let Some((kind, args)) = text.split_once(':') else {
            return Ok(Self::Fixed(whole(text)?));
        };
        let dist = match kind {
            "uniform" => {
                let (min, max) = args
                    .split_once("..")
                    .ok_or_else(|| err("uniform needs MIN..MAX"))?;
                Self::Uniform {
                    min: whole(min)?,
                    max: whole(max)?,
                }
            }
            "lognormal" => {
                let p =
                    Params::parse(args, &["median", "sigma", "min", "max"]).map_err(|w| err(&w))?;
                Self::LogNormal {
                    median: p.number("median").map_err(|w| err(&w))?,
                    sigma: p.number("sigma").map_err(|w| err(&w))?,
                    min: p.whole_or("min", 0).map_err(|w| err(&w))?,
                    max: p.whole("max").map_err(|w| err(&w))?,
                }
            }
            "zipf" => {
                let p = Params::parse(args, &["s", "min", "max"]).map_err(|w| err(&w))?;
                Self::Zipf {
                    s: p.number("s").map_err(|w| err(&w))?,
                    min: p.whole("min").map_err(|w| err(&w))?,
                    max: p.whole("max").map_err(|w| err(&w))?,
                }
            }
            "weighted" => Self::Weighted(
                args.split(',')
                    .map(|pair| {
                        let (v, w) = pair
                            .split_once('*')
                            .ok_or_else(|| err("weighted needs VALUE*WEIGHT pairs"))?;
                        let w: f64 = w
                            .trim()
                            .parse()
                            .map_err(|_| err(&format!("{w:?} is not a weight")))?;
                        Ok((whole(v)?, w))
                    })
                    .collect::<Result<_, DistError>>()?,
            ),
            other => return Err(err(&format!("no distribution called {other:?}"))),
        };
        dist.check().map_err(|why| err(&why))?;
        Ok(dist)
    }
}

impl Dist {
    /// What makes a distribution unusable, said once for every way of writing it.
    fn check(&self) -> Result<(), String> {
        if self.min() > self.max() {
            return Err("its minimum is above its maximum".into());
        }
        match self {
            Self::LogNormal { median, sigma, .. } if !(*median > 0.0 && *sigma >= 0.0) => {
                Err("lognormal needs median > 0 and sigma >= 0".into())
            }
            Self::LogNormal { sigma, .. } if !sigma.is_finite() => {
                Err("sigma is not finite".into())
            }
            Self::Zipf { s, min, .. } if !(*s > 0.0 && s.is_finite()) || *min == 0 => {
                Err("zipf needs s > 0 and min >= 1".into())
            }
            Self::Weighted(values)
                if WeightedIndex::new(values.iter().map(|(_, w)| *w)).is_err() =>
            {
                Err("weighted needs weights >= 0, not all 0".into())
            }
            _ => Ok(()),
        }
    }
}

/// `name=value` pairs, each name once and known.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(args: &str, known: &[&str]) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for pair in args.split(',') {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: write NAME=VALUE"))?;
            let k = k.trim();
            if !known.contains(&k) {
                return Err(format!("{k:?}: the parameters are {}", known.join(", ")));
            }
            if pairs.iter().any(|(seen, _)| seen == k) {
                return Err(format!("{k} is given twice"));
            }
            pairs.push((k.into(), v.trim().into()));
        }
        Ok(Self(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str) -> Result<f64, String> {
        let v = self
            .get(name)
            .ok_or_else(|| format!("{name}= is missing"))?;
        v.parse().map_err(|_| format!("{name}={v}: not a number"))
    }

    fn whole(&self, name: &str) -> Result<u64, String> {
        let v = self
            .get(name)
            .ok_or_else(|| format!("{name}= is missing"))?;
        v.parse()
            .map_err(|_| format!("{name}={v}: not a whole number"))
    }

    fn whole_or(&self, name: &str, default: u64) -> Result<u64, String> {
        match self.get(name) {
            Some(_) => self.whole(name),
            None => Ok(default),
        }
    }
}

impl fmt::Display for Dist {
    /// The distribution as it is written on a command line (parses back to itself).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(v) => write!(f, "{v}"),
            Self::Uniform { min, max } => write!(f, "uniform:{min}..{max}"),
            Self::LogNormal {
                median,
                sigma,
                min,
                max,
            } => write!(
                f,
                "lognormal:median={median},sigma={sigma},min={min},max={max}"
            ),
            Self::Zipf { s, min, max } => write!(f, "zipf:s={s},min={min},max={max}"),
            Self::Weighted(values) => {
                let pairs: Vec<String> = values.iter().map(|(v, w)| format!("{v}*{w}")).collect();
                write!(f, "weighted:{}", pairs.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn samples(d: &Dist, n: usize) -> Vec<u64> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut v: Vec<u64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn each_form_parses_prints_back_and_samples_within_its_bounds() {
        for text in [
            "64",
            "uniform:32..512",
            "lognormal:median=80,sigma=1,min=48,max=4096",
            "zipf:s=1.1,min=2,max=2000",
            "weighted:60*9,2000*1",
        ] {
            let d: Dist = text.parse().expect(text);
            assert_eq!(d.to_string().parse::<Dist>().expect("printed"), d, "{text}");
            let v = samples(&d, 2000);
            assert!(
                v[0] >= d.min() && v[v.len() - 1] <= d.max(),
                "{text}: {v:?}"
            );
        }
    }

    #[test]
    fn the_samples_follow_the_shape() {
        let median = |d: &str| samples(&d.parse().expect("valid"), 20_001)[10_000];
        let m = median("lognormal:median=80,sigma=1,max=100000");
        assert!((72..=88).contains(&m), "lognormal median {m}");
        let zipf = samples(&"zipf:s=1.5,min=2,max=2000".parse().expect("valid"), 10_000);
        let twos = zipf.iter().filter(|v| **v == 2).count();
        assert!(
            twos > 3000,
            "zipf: the minimum is the most likely ({twos} of 10000)"
        );
        let w = samples(&"weighted:60*9,2000*1".parse().expect("valid"), 10_000);
        let big = w.iter().filter(|v| **v == 2000).count();
        assert!(
            (800..1200).contains(&big),
            "weighted: {big} of 10000 at 2000"
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (text, says) in [
            ("sixty", "not a whole number"),
            ("gauss:1", "no distribution called \"gauss\""),
            ("uniform:9..3", "minimum is above its maximum"),
            ("lognormal:median=80,sigma=1", "max= is missing"),
            (
                "lognormal:median=80,sigma=1,max=9,mu=3",
                "the parameters are",
            ),
            ("zipf:s=0,min=1,max=9", "zipf needs s > 0"),
            ("weighted:60", "VALUE*WEIGHT"),
        ] {
            let err = text.parse::<Dist>().expect_err(text).to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
