//! Which shards `reports merge` may join: all of one plan (the same `plan_id` and N), each
//! once, and every index from 0 to N-1, unless `--allow-partial` (then the merged result says
//! which were missing). Runs without a shard record merge as before (hand-made splits).

use std::collections::BTreeMap;
use std::path::PathBuf;

use run_result::result::MergedShards;

use crate::run::Run;

/// Why a set of shards cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum ShardSetError {
    #[error(
        "{shard} is a shard (of plan {plan}) and {whole} is a whole run: merge shards of one plan, or whole runs"
    )]
    Mixed {
        shard: PathBuf,
        plan: String,
        whole: PathBuf,
    },
    #[error(
        "{a} and {b} are shards of different plans ({plan_a}, {plan_b}): every shard needs the same flags, --seed and --start-at"
    )]
    Plans {
        a: PathBuf,
        plan_a: String,
        b: PathBuf,
        plan_b: String,
    },
    #[error("shard {index} is there twice: {a} and {b}")]
    Duplicate { index: u32, a: PathBuf, b: PathBuf },
    #[error(
        "shards {missing:?} of {count} are missing (plan {plan}); merge them all, or pass --allow-partial to merge what there is"
    )]
    Incomplete {
        missing: Vec<u32>,
        count: u32,
        plan: String,
    },
}

/// Checks the set; `Some` describes a set of shards, `None` is a merge of whole runs.
pub fn check(runs: &[Run], allow_partial: bool) -> Result<Option<MergedShards>, ShardSetError> {
    let shard_run = runs.iter().find(|r| r.result.shard.is_some());
    let whole_run = runs.iter().find(|r| r.result.shard.is_none());
    let Some(first) = shard_run else {
        return Ok(None);
    };
    let first_shard = first.result.shard.as_ref().expect("found by its shard");
    if let Some(whole) = whole_run {
        return Err(ShardSetError::Mixed {
            shard: first.path.clone(),
            plan: first_shard.plan_id.clone(),
            whole: whole.path.clone(),
        });
    }
    let mut seen: BTreeMap<u32, &PathBuf> = BTreeMap::new();
    let mut late = BTreeMap::new();
    for run in runs {
        let shard = run.result.shard.as_ref().expect("every run is a shard");
        if shard.plan_id != first_shard.plan_id || shard.count != first_shard.count {
            return Err(ShardSetError::Plans {
                a: first.path.clone(),
                plan_a: first_shard.plan_id.clone(),
                b: run.path.clone(),
                plan_b: shard.plan_id.clone(),
            });
        }
        if let Some(other) = seen.insert(shard.index, &run.path) {
            return Err(ShardSetError::Duplicate {
                index: shard.index,
                a: other.clone(),
                b: run.path.clone(),
            });
        }
        if shard.late_ms > 0 {
            late.insert(shard.index, shard.late_ms);
        }
    }
    let missing: Vec<u32> = (0..first_shard.count)
        .filter(|k| !seen.contains_key(k))
        .collect();
    if !missing.is_empty() && !allow_partial {
        return Err(ShardSetError::Incomplete {
            missing,
            count: first_shard.count,
            plan: first_shard.plan_id.clone(),
        });
    }
    Ok(Some(MergedShards {
        plan_id: first_shard.plan_id.clone(),
        count: first_shard.count,
        merged: seen.keys().copied().collect(),
        partial: !missing.is_empty(),
        missing,
        late,
    }))
}
