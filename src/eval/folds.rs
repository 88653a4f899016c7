//! Data splits for evaluation: speaker/subject-independent k-fold cross-validation (whole
//! groups, e.g. actors, go to one fold; never single samples), its stratified variant (each
//! fold gets the same mix of group strata, e.g. 2 male + 2 female RAVDESS actors), and a
//! stratified holdout split for data without groups (e.g. 10 % of FairFace stratified by
//! gender × race).
//!
//! Every split is deterministic for a seed. Randomness comes from a small built-in SplitMix64
//! generator, so a seed gives the same folds on every platform and does not depend on the
//! version of an external random-number crate.

use std::collections::BTreeMap;

use crate::{Error, Result};

/// One cross-validation fold: which samples are held out for testing and which are trained on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold<G> {
    /// The groups (e.g. actors) whose samples form the test set, in ascending order.
    pub test_groups: Vec<G>,
    /// Indices of the training samples, ascending.
    pub train: Vec<usize>,
    /// Indices of the test samples, ascending.
    pub test: Vec<usize>,
}

/// SplitMix64: a tiny, well-mixed, fully specified pseudo-random generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        crate::rng::splitmix64_next(&mut self.0)
    }

    /// Uniform integer in `0..n` (`n > 0`), by rejection so there is no modulo bias.
    fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }

    /// Fisher–Yates shuffle.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// The sample indices of each distinct group, in ascending group order.
fn samples_by_group<G: Ord + Clone>(groups: &[G]) -> BTreeMap<G, Vec<usize>> {
    let mut by_group: BTreeMap<G, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        by_group.entry(g.clone()).or_default().push(i);
    }
    by_group
}

fn check_k(k: usize, n_groups: usize) -> Result<()> {
    if k < 2 {
        return Err(Error::InvalidConfig(format!(
            "k-fold cross-validation needs k >= 2, got {k}"
        )));
    }
    if k > n_groups {
        return Err(Error::InvalidConfig(format!(
            "cannot make {k} folds from {n_groups} groups: every fold needs at least one group"
        )));
    }
    Ok(())
}

/// Builds the folds from a group → fold assignment.
fn build_folds<G: Ord + Clone>(
    by_group: &BTreeMap<G, Vec<usize>>,
    fold_of_group: &BTreeMap<G, usize>,
    k: usize,
    n_samples: usize,
) -> Vec<Fold<G>> {
    let mut fold_of_sample = vec![0usize; n_samples];
    let mut test_groups: Vec<Vec<G>> = vec![Vec::new(); k];
    for (group, samples) in by_group {
        let fold = fold_of_group[group];
        test_groups[fold].push(group.clone());
        for &s in samples {
            fold_of_sample[s] = fold;
        }
    }
    test_groups
        .into_iter()
        .enumerate()
        .map(|(fold, test_groups)| {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..n_samples).partition(|&s| fold_of_sample[s] == fold);
            Fold {
                test_groups,
                train,
                test,
            }
        })
        .collect()
}

/// Groups in random order (from `rng`), then stably sorted by decreasing sample count, so
/// large groups are placed first and equal-sized groups come in seed-dependent order.
fn shuffled_largest_first<G: Ord + Clone>(
    groups: impl IntoIterator<Item = G>,
    by_group: &BTreeMap<G, Vec<usize>>,
    rng: &mut SplitMix64,
) -> Vec<G> {
    let mut order: Vec<G> = groups.into_iter().collect();
    rng.shuffle(&mut order);
    order.sort_by_key(|g| std::cmp::Reverse(by_group[g].len()));
    order
}

/// Group (speaker/subject-independent) k-fold: every sample of a group lands in the same
/// fold, so a test fold never shares a group with its training set.
///
/// `groups[i]` is the group (e.g. the actor) of sample `i`. Groups are taken largest first,
/// equal-sized groups in a seed-dependent random order, and each is assigned to the fold with
/// the fewest samples so far (ties to the lowest fold index). Folds are therefore balanced in
/// sample count; the seed decides which of several equal-sized groups go together (with
/// groups of all-distinct sizes it only matters through such ties).
///
/// Returns `k` folds in fold order.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when `groups` is empty, `k < 2` or `k` exceeds the number of
/// distinct groups.
pub fn group_k_fold<G: Ord + Clone>(groups: &[G], k: usize, seed: u64) -> Result<Vec<Fold<G>>> {
    if groups.is_empty() {
        return Err(Error::InvalidConfig(
            "no samples to split into folds".into(),
        ));
    }
    let by_group = samples_by_group(groups);
    check_k(k, by_group.len())?;
    let mut rng = SplitMix64(seed);
    let order = shuffled_largest_first(by_group.keys().cloned(), &by_group, &mut rng);

    let mut fold_sizes = vec![0usize; k];
    let mut fold_of_group = BTreeMap::new();
    for group in order {
        let fold = (0..k).min_by_key(|&f| fold_sizes[f]).unwrap_or(0);
        fold_sizes[fold] += by_group[&group].len();
        fold_of_group.insert(group, fold);
    }
    Ok(build_folds(&by_group, &fold_of_group, k, groups.len()))
}

/// Stratified group k-fold: like [`group_k_fold`], but the groups of each stratum are spread
/// as evenly as possible over the folds.
///
/// `strata_of_group` gives the stratum of a group (for RAVDESS, the actor's gender:
/// odd actor numbers are male). Strata are processed in ascending order; within a stratum,
/// groups are taken largest first (equal sizes in seed-dependent order), and each goes to the
/// fold that has the fewest groups *of that stratum*, then the fewest samples, then the lowest
/// index. So with 10 male and 10 female actors of equal size and `k = 5`, every fold holds
/// exactly 2 male + 2 female actors. When a stratum's group count is not a multiple of `k`,
/// fold counts of that stratum differ by at most one; a stratum with fewer than `k` groups
/// leaves some folds without it.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when `groups` is empty, `k < 2` or `k` exceeds the number of
/// distinct groups.
pub fn stratified_group_k_fold<G, S, F>(
    groups: &[G],
    strata_of_group: F,
    k: usize,
    seed: u64,
) -> Result<Vec<Fold<G>>>
where
    G: Ord + Clone,
    S: Ord,
    F: Fn(&G) -> S,
{
    if groups.is_empty() {
        return Err(Error::InvalidConfig(
            "no samples to split into folds".into(),
        ));
    }
    let by_group = samples_by_group(groups);
    check_k(k, by_group.len())?;
    let mut groups_by_stratum: BTreeMap<S, Vec<G>> = BTreeMap::new();
    for group in by_group.keys() {
        groups_by_stratum
            .entry(strata_of_group(group))
            .or_default()
            .push(group.clone());
    }

    let mut rng = SplitMix64(seed);
    let mut fold_sizes = vec![0usize; k];
    let mut fold_of_group = BTreeMap::new();
    for stratum_groups in groups_by_stratum.into_values() {
        let order = shuffled_largest_first(stratum_groups, &by_group, &mut rng);
        let mut stratum_counts = vec![0usize; k];
        for group in order {
            let fold = (0..k)
                .min_by_key(|&f| (stratum_counts[f], fold_sizes[f]))
                .unwrap_or(0);
            stratum_counts[fold] += 1;
            fold_sizes[fold] += by_group[&group].len();
            fold_of_group.insert(group, fold);
        }
    }
    Ok(build_folds(&by_group, &fold_of_group, k, groups.len()))
}

/// Stratified holdout split for samples without groups: returns `(train, validation)` sample
/// indices, both ascending.
///
/// `strata[i]` is the stratum of sample `i` (e.g. a `(gender, race)` pair). The validation set
/// holds `round(fraction × n)` samples in total, and each stratum contributes its share
/// `fraction × n_stratum` rounded down or up: strata are first given the floor of their share,
/// and the remaining samples go to the strata with the largest fractional remainders (ties to
/// the earlier stratum in sort order). Which samples of a stratum are held out is random,
/// deterministic for a seed.
///
/// # Errors
///
/// [`Error::InvalidConfig`] when `strata` is empty or `fraction` is not strictly between 0
/// and 1.
pub fn stratified_split<S: Ord + Clone>(
    strata: &[S],
    fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if strata.is_empty() {
        return Err(Error::InvalidConfig("no samples to split".into()));
    }
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(Error::InvalidConfig(format!(
            "the validation fraction must be strictly between 0 and 1, got {fraction}"
        )));
    }
    let by_stratum = samples_by_group(strata);
    let n = strata.len();
    let target_total = (fraction * n as f64).round() as usize;

    // Largest-remainder allocation of the validation quota to strata.
    let shares: Vec<f64> = by_stratum
        .values()
        .map(|s| fraction * s.len() as f64)
        .collect();
    let mut quota: Vec<usize> = shares.iter().map(|s| s.floor() as usize).collect();
    let assigned: usize = quota.iter().sum();
    let mut by_remainder: Vec<usize> = (0..shares.len()).collect();
    by_remainder.sort_by(|&a, &b| {
        let ra = shares[a] - shares[a].floor();
        let rb = shares[b] - shares[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    for &s in by_remainder
        .iter()
        .take(target_total.saturating_sub(assigned))
    {
        quota[s] += 1;
    }

    let mut rng = SplitMix64(seed);
    let mut is_validation = vec![false; n];
    for (samples, &q) in by_stratum.values().zip(&quota) {
        let mut samples = samples.clone();
        rng.shuffle(&mut samples);
        for &s in samples.iter().take(q) {
            is_validation[s] = true;
        }
    }
    Ok((0..n).partition(|&i| !is_validation[i]))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// RAVDESS speech: actors 1..=20, 60 clips each; odd actors are male.
    fn ravdess_actor_of_sample() -> Vec<u8> {
        (1..=20u8)
            .flat_map(|actor| std::iter::repeat_n(actor, 60))
            .collect()
    }

    fn is_male(actor: &u8) -> bool {
        actor % 2 == 1
    }

    /// Checks the invariants every group k-fold must satisfy.
    fn check_partition<G: Ord + Clone + std::fmt::Debug>(groups: &[G], folds: &[Fold<G>]) {
        let n = groups.len();
        let mut times_tested = vec![0usize; n];
        let mut group_seen: BTreeMap<G, usize> = BTreeMap::new();
        for fold in folds {
            assert_eq!(fold.train.len() + fold.test.len(), n);
            assert!(fold.test.windows(2).all(|w| w[0] < w[1]));
            assert!(fold.train.windows(2).all(|w| w[0] < w[1]));
            for &i in &fold.test {
                times_tested[i] += 1;
            }
            let test_groups: BTreeSet<&G> = fold.test.iter().map(|&i| &groups[i]).collect();
            let train_groups: BTreeSet<&G> = fold.train.iter().map(|&i| &groups[i]).collect();
            assert!(test_groups.is_disjoint(&train_groups), "group leak");
            assert_eq!(test_groups, fold.test_groups.iter().collect());
            for g in &fold.test_groups {
                *group_seen.entry(g.clone()).or_default() += 1;
            }
        }
        assert!(
            times_tested.iter().all(|&t| t == 1),
            "each sample tested once"
        );
        let distinct: BTreeSet<&G> = groups.iter().collect();
        assert_eq!(group_seen.len(), distinct.len());
        assert!(
            group_seen.values().all(|&c| c == 1),
            "each group in one test fold"
        );
    }

    #[test]
    fn ravdess_stratified_folds_have_two_male_two_female_actors() {
        let actors = ravdess_actor_of_sample();
        for seed in [0, 1, 42, 2024] {
            let folds = stratified_group_k_fold(&actors, is_male, 5, seed).unwrap();
            assert_eq!(folds.len(), 5);
            check_partition(&actors, &folds);
            for fold in &folds {
                assert_eq!(fold.test_groups.len(), 4);
                let male = fold.test_groups.iter().filter(|a| is_male(a)).count();
                assert_eq!(male, 2, "fold {:?}", fold.test_groups);
                assert_eq!(fold.test.len(), 240);
                assert_eq!(fold.train.len(), 960);
            }
        }
    }

    #[test]
    fn stratified_folds_are_deterministic_per_seed() {
        let actors = ravdess_actor_of_sample();
        let a = stratified_group_k_fold(&actors, is_male, 5, 7).unwrap();
        let b = stratified_group_k_fold(&actors, is_male, 5, 7).unwrap();
        let c = stratified_group_k_fold(&actors, is_male, 5, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn stratified_uneven_strata_still_balance_group_counts() {
        // 11 "male" (stratum 0) and 9 "female" (stratum 1) groups of 10 samples, 5 folds:
        // male counts per fold 3,2,2,2,2; the fold with 3 males (most samples) gets only one
        // female, so every fold ends with 4 groups.
        let groups: Vec<u32> = (0..20u32)
            .flat_map(|g| std::iter::repeat_n(g, 10))
            .collect();
        let stratum = |g: &u32| u32::from(*g >= 11);
        let folds = stratified_group_k_fold(&groups, stratum, 5, 3).unwrap();
        check_partition(&groups, &folds);
        let mut male_counts: Vec<usize> = folds
            .iter()
            .map(|f| f.test_groups.iter().filter(|g| stratum(g) == 0).count())
            .collect();
        male_counts.sort_unstable();
        assert_eq!(male_counts, vec![2, 2, 2, 2, 3]);
        assert!(folds.iter().all(|f| f.test_groups.len() == 4));
    }

    #[test]
    fn group_k_fold_partitions_and_balances_sample_counts() {
        // Group sizes 10, 9, ..., 1 (55 samples) in 3 folds. Greedy largest-first into the
        // smallest fold: 10->A, 9->B, 8->C, 7->C(15), 6->B(15), 5->A(15), 4->A(19), 3->B(18),
        // 2->C(17), 1->C(18): sizes 19, 18, 18.
        let groups: Vec<usize> = (1..=10usize)
            .flat_map(|g| std::iter::repeat_n(g, g))
            .collect();
        let folds = group_k_fold(&groups, 3, 0).unwrap();
        check_partition(&groups, &folds);
        let mut sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![18, 18, 19]);
    }

    #[test]
    fn group_k_fold_is_deterministic_per_seed() {
        let actors = ravdess_actor_of_sample();
        let a = group_k_fold(&actors, 5, 11).unwrap();
        let b = group_k_fold(&actors, 5, 11).unwrap();
        let c = group_k_fold(&actors, 5, 12).unwrap();
        check_partition(&actors, &a);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a
            .iter()
            .all(|f| f.test_groups.len() == 4 && f.test.len() == 240));
    }

    #[test]
    fn group_k_fold_works_with_string_groups() {
        let groups = ["ann", "bob", "ann", "cy", "bob", "dee", "cy", "dee"];
        let folds = group_k_fold(&groups, 2, 5).unwrap();
        check_partition(&groups, &folds);
        assert!(folds.iter().all(|f| f.test.len() == 4));
    }

    #[test]
    fn fold_arguments_are_validated() {
        let groups = [1, 1, 2, 2, 3];
        assert!(group_k_fold(&groups, 1, 0).is_err());
        assert!(group_k_fold(&groups, 4, 0).is_err());
        assert!(group_k_fold::<u8>(&[], 2, 0).is_err());
        assert!(group_k_fold(&groups, 3, 0).is_ok());
        assert!(stratified_group_k_fold(&groups, |g| *g, 4, 0).is_err());
        assert!(stratified_group_k_fold(&groups, |g| *g, 0, 0).is_err());
    }

    #[test]
    fn stratified_split_holds_out_the_fraction_of_every_stratum() {
        // 4 strata of 100, 200, 300, 400 samples, interleaved; 10 % -> 10, 20, 30, 40.
        let strata: Vec<u8> = (0..1000u32)
            .map(|i| match i % 10 {
                0 => 0,
                1 | 2 => 1,
                3..=5 => 2,
                _ => 3,
            })
            .collect();
        let (train, val) = stratified_split(&strata, 0.1, 9).unwrap();
        assert_eq!(val.len(), 100);
        assert_eq!(train.len(), 900);
        let mut all: Vec<usize> = train.iter().chain(&val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        for (stratum, expected) in [(0u8, 10), (1, 20), (2, 30), (3, 40)] {
            let got = val.iter().filter(|&&i| strata[i] == stratum).count();
            assert_eq!(got, expected, "stratum {stratum}");
        }
        assert_eq!(
            stratified_split(&strata, 0.1, 9).unwrap(),
            (train, val.clone())
        );
        assert_ne!(stratified_split(&strata, 0.1, 10).unwrap().1, val);
    }

    #[test]
    fn stratified_split_distributes_rounding_by_largest_remainder() {
        // Strata sizes 3, 3, 4 (n = 10), fraction 0.25: shares 0.75, 0.75, 1.0; total
        // round(2.5) = 3 (round half away from zero). Floors 0, 0, 1 -> 1 assigned; the two
        // remaining go to the strata with the largest remainders, 0.75 and 0.75 -> 1, 1, 1.
        let strata = ["a", "a", "a", "b", "b", "b", "c", "c", "c", "c"];
        let (_, val) = stratified_split(&strata, 0.25, 1).unwrap();
        assert_eq!(val.len(), 3);
        for s in ["a", "b", "c"] {
            assert_eq!(val.iter().filter(|&&i| strata[i] == s).count(), 1, "{s}");
        }
    }

    #[test]
    fn stratified_split_rejects_bad_fractions() {
        assert!(stratified_split(&[1, 2], 0.0, 0).is_err());
        assert!(stratified_split(&[1, 2], 1.0, 0).is_err());
        assert!(stratified_split(&[1, 2], f64::NAN, 0).is_err());
        assert!(stratified_split::<u8>(&[], 0.5, 0).is_err());
    }

    #[test]
    fn splitmix_below_is_in_range_and_covers_values() {
        let mut rng = SplitMix64(1);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = rng.below(7);
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
