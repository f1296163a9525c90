//! The FineWeb tracks' `[data]` tables: the speedrun's shard names, in order, with
//! well-formed pins, in the shape the fetch code takes.

use std::path::Path;

use speedcert_data::fetch::ShardSource;

fn data_table(track: &str) -> toml::Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../records/tracks/{track}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["data"].clone()
}

fn sources(data: &toml::Value, key: &str) -> Vec<ShardSource> {
    data[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let t = s.as_table().unwrap();
            assert!(t.keys().all(|k| k == "name" || k == "sha256"), "{t:?}");
            ShardSource::new(
                t["name"].as_str().unwrap(),
                t.get("sha256").map(|h| h.as_str().unwrap().to_owned()),
            )
        })
        .collect()
}

#[test]
fn fineweb_tracks_list_the_public_shards() {
    let eight = data_table("fineweb-gpt2-8xh100");
    let one = data_table("fineweb-gpt2-1xh100");
    assert_eq!(eight, one, "the 1-GPU track uses the same data");
    assert_eq!(eight["source"].as_str(), Some("shards"));
    assert!(
        eight["base_url"]
            .as_str()
            .unwrap()
            .starts_with("https://huggingface.co/datasets/kjj0/fineweb10B-gpt2/resolve/")
    );
    let val = sources(&eight, "val");
    let train = sources(&eight, "train");
    assert_eq!(val.len(), 1);
    assert_eq!(val[0].name, "fineweb_val_000000.bin");
    assert_eq!(train.len(), 102);
    for (i, s) in train.iter().enumerate() {
        assert_eq!(s.name, format!("fineweb_train_{:06}.bin", i + 1));
    }
    // The last public train shard is the certifier's held-out shard, never trained on.
    assert_eq!(
        eight["heldout"]["name"].as_str(),
        Some("fineweb_train_000103.bin")
    );
    for s in val.iter().chain(&train) {
        if let Some(h) = &s.sha256 {
            assert_eq!(h.len(), 64, "{}", s.name);
            assert!(
                h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
    }
    assert!(val[0].sha256.is_some() && train[0].sha256.is_some());
}
