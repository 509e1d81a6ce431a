//! Sorting children by name, fast: a load balancer of thousands of rules is sorted on every
//! plan, and its names all start alike (the ownership prefix), so comparing them as strings
//! reads past that start, in memory far apart, for each of the sort's comparisons.

/// Sort `list` by `name`, byte-wise, as `list.sort_by(|a, b| name(a).cmp(name(b)))` would
/// (stable: equal names keep their order).
///
/// Each name is keyed by the 16 bytes that follow the start every name shares, so most
/// comparisons compare two integers; only names with equal keys compare whole. The elements
/// are then moved once, along the cycles of the permutation.
pub(crate) fn sort_by_name<T>(list: &mut [T], name: impl Fn(&T) -> &str) {
    let Some(first) = list.first().map(|c| name(c).as_bytes()) else {
        return;
    };
    let shared = list.iter().fold(first.len(), |shared, c| {
        let other = name(c).as_bytes();
        if other.starts_with(&first[..shared]) {
            return shared;
        }
        (first[..shared].iter().zip(other))
            .take_while(|(a, b)| a == b)
            .count()
    });
    if list.iter().all(|c| name(c).len() == shared) {
        // All names are the same: sorted as they are.
        return;
    }
    let mut keys: Vec<(u128, usize)> = (list.iter().enumerate())
        .map(|(i, c)| (key(name(c).as_bytes().get(shared..).unwrap_or_default()), i))
        .collect();
    keys.sort_unstable_by(|a, b| {
        (a.0.cmp(&b.0))
            .then_with(|| name(&list[a.1]).cmp(name(&list[b.1])))
            .then(a.1.cmp(&b.1))
    });
    permute(list, keys.into_iter().map(|(_, i)| i).collect());
}

/// Sort `list` by `name` as [`sort_by_name`] does, when it is made of runs (`runs`: their
/// lengths, in order, summing to its length) each of one Service's children, whose names
/// start with its prefix: the runs are ordered by their first names and each is sorted by
/// itself, far fewer comparisons than sorting the whole. Should a run's last name not come
/// before the next run's first (the runs' names are not apart), the whole list is sorted.
pub(crate) fn sort_runs_by_name<T>(list: &mut [T], runs: &[usize], name: impl Fn(&T) -> &str) {
    if runs.iter().sum::<usize>() != list.len() {
        return sort_by_name(list, name);
    }
    // Each run's first name, start and length.
    let mut firsts: Vec<(&str, usize, usize)> = Vec::with_capacity(runs.len());
    let mut start = 0;
    for &len in runs {
        if len > 0 {
            firsts.push((name(&list[start]), start, len));
        }
        start += len;
    }
    sort_by_name(&mut firsts, |(first, _, _)| first);
    let mut order: Vec<usize> = Vec::with_capacity(list.len());
    let mut apart = true;
    for (_, start, len) in firsts {
        let run = order.len();
        order.extend(start..start + len);
        order[run..].sort_by(|a, b| name(&list[*a]).cmp(name(&list[*b])));
        if run > 0 && name(&list[order[run - 1]]) >= name(&list[order[run]]) {
            apart = false;
            break;
        }
    }
    if apart {
        permute(list, order);
    } else {
        sort_by_name(list, name);
    }
}

/// Reorder `list` so that position `at` takes the element now at `from[at]` (a permutation),
/// moving each element once, along the permutation's cycles.
fn permute<T>(list: &mut [T], mut from: Vec<usize>) {
    for start in 0..from.len() {
        let mut at = start;
        while from[at] != start {
            let next = from[at];
            list.swap(at, next);
            from[at] = at;
            at = next;
        }
        from[at] = at;
    }
}

/// The first 16 bytes of `rest` as a big-endian integer, zero-padded: keys compare as the
/// bytes do, and a name that ends compares below one that goes on (equal keys, which a zero
/// byte in a name can also give, fall back to comparing the names).
fn key(rest: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    let n = rest.len().min(16);
    bytes[..n].copy_from_slice(&rest[..n]);
    u128::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(names: Vec<String>) {
        // Numbered, to see that equal names keep their order.
        let mut want: Vec<(String, usize)> = names.into_iter().zip(0..).collect();
        let mut got = want.clone();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        sort_by_name(&mut got, |(s, _)| s.as_str());
        assert_eq!(got, want);
    }

    #[test]
    fn sorts_names_with_a_shared_start_ties_and_zero_bytes() {
        check(vec![]);
        check(vec!["a".into()]);
        check(["b", "a", "b", "a"].map(String::from).to_vec());
        check(["a", "a", "a"].map(String::from).to_vec());
        let p = "aksnet-0123abcd-";
        check(
            [
                "0f0f0f0f0f0f0f0f0f0f-TCP-80",
                "0f0f0f0f0f0f0f0f0f0f-TCP-443",
                "0f0f0f0f0f0f0f0f0f0f",
                "00",
                "0",
                "0\0",
                "0\0\0",
                "",
                "ffffffffffffffffffffffffffffffff-UDP-53-IPv6",
            ]
            .iter()
            .map(|s| format!("{p}{s}"))
            .collect(),
        );
    }

    /// Runs of names that share a prefix per run, as a Service's children do.
    fn check_runs(runs: Vec<(String, Vec<String>)>) {
        let lens: Vec<usize> = runs.iter().map(|(_, r)| r.len()).collect();
        let names: Vec<String> = (runs.into_iter())
            .flat_map(|(p, r)| r.into_iter().map(move |n| format!("{p}{n}")))
            .collect();
        let mut want: Vec<(String, usize)> = names.into_iter().zip(0..).collect();
        let mut got = want.clone();
        want.sort_by(|a, b| a.0.cmp(&b.0));
        sort_runs_by_name(&mut got, &lens, |(s, _)| s.as_str());
        assert_eq!(got, want);
    }

    #[test]
    fn sorts_runs_and_falls_back_when_runs_are_not_apart() {
        let run = |p: &str, names: &[&str]| {
            (p.to_string(), names.iter().map(|n| n.to_string()).collect())
        };
        check_runs(vec![]);
        check_runs(vec![
            run("b-", &["tcp-80", "tcp-443"]),
            run("a-", &["udp-53"]),
            run("c-", &[]),
        ]);
        // Not apart: runs that interleave, and a name in two runs.
        check_runs(vec![run("a", &["3", "1"]), run("a", &["2"])]);
        check_runs(vec![run("a", &["1"]), run("a", &["1"])]);
    }

    proptest! {
        #[test]
        fn sorts_runs_as_strings_sort(
            runs in prop::collection::vec(("[a-c]{0,3}", prop::collection::vec("[a-c]{0,3}", 0..4)), 0..20),
        ) {
            check_runs(runs);
        }

        #[test]
        fn sorts_as_strings_sort(
            start in "[a-c]{0,20}",
            names in prop::collection::vec("[a-c\\x00]{0,24}", 0..60),
        ) {
            check(names.into_iter().map(|n| format!("{start}{n}")).collect());
        }
    }
}
