//! A user's streams as a tree, from the flat list a backup holds: each stream's materialised
//! path, and an order where every stream comes after its parent.
//!
//! Both engines use it on both sides. On export, because the reference's reader
//! (bin/backup.js) computes a stream's path as its parent's path + own id + `/` while reading
//! the file in order: a child written before its parent would get a wrong path. On import,
//! because a backup may list streams in any order (the reference's own archives put a stream
//! renamed after its children were created after those children).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::model::Item;

/// A stream whose `parentId` chain comes back to itself.
#[derive(Debug, thiserror::Error)]
#[error("stream {id}: its parentId chain loops")]
pub struct ParentLoop {
    pub id: String,
}

fn id_of(item: &Item) -> Option<&str> {
    item.get("id").and_then(Value::as_str)
}

/// The parent of a live stream (a deletion has none: the core clears `parentId`).
fn parent_of(item: &Item) -> Option<&str> {
    if item.get("deleted").is_some_and(|d| !d.is_null()) {
        return None;
    }
    item.get("parentId").and_then(Value::as_str)
}

/// The path an item carries itself, if any (the core's reader keeps such a path as it is).
fn carried_path(item: &Item) -> Option<&str> {
    item.get("path")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
}

/// Stream id → path for every stream of `items`, whatever their order. A path the item
/// carries wins; else the parent's path (in `items`, else `existing`: streams already in the
/// target) followed by the id and `/`; a stream without a known parent is a root (`id/`).
pub fn paths(
    items: &[Item],
    existing: &HashMap<String, String>,
) -> Result<HashMap<String, String>, ParentLoop> {
    let by_id: HashMap<&str, &Item> = items.iter().filter_map(|i| Some((id_of(i)?, i))).collect();
    let mut paths: HashMap<String, String> = HashMap::with_capacity(by_id.len());
    for start in by_id.keys() {
        // Climb to the first ancestor whose path is known, then come back down.
        let mut chain: Vec<&str> = Vec::new();
        let mut current = *start;
        let mut prefix = loop {
            if let Some(p) = paths.get(current) {
                break p.clone();
            }
            if chain.len() > by_id.len() {
                return Err(ParentLoop {
                    id: start.to_string(),
                });
            }
            let item = by_id[current];
            if let Some(own) = carried_path(item) {
                paths.insert(current.to_string(), own.to_string());
                break own.to_string();
            }
            chain.push(current);
            match parent_of(item) {
                Some(parent) if by_id.contains_key(parent) => current = parent,
                Some(parent) if existing.contains_key(parent) => break existing[parent].clone(),
                _ => break String::new(),
            }
        };
        for id in chain.into_iter().rev() {
            prefix = format!("{prefix}{id}/");
            paths.insert(id.to_string(), prefix.clone());
        }
    }
    Ok(paths)
}

/// `items` reordered so that each stream comes after its parent, moving only what must move:
/// a stream listed before its parent is put right after it (and its own deferred children
/// after it). Deletions and streams whose parent is not in the list count as roots; streams
/// caught in a parentId loop go last, in their original order.
pub fn parents_first(items: Vec<Item>) -> Vec<Item> {
    let present: HashSet<String> = items.iter().filter_map(id_of).map(str::to_string).collect();
    let mut placed: HashSet<String> = HashSet::new();
    let mut waiting: HashMap<String, Vec<usize>> = HashMap::new();
    let mut order: Vec<usize> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match parent_of(item) {
            Some(p) if present.contains(p) && !placed.contains(p) => {
                waiting.entry(p.to_string()).or_default().push(i);
            }
            _ => {
                // Place it, then whatever waited for it, depth first.
                let mut stack = vec![i];
                while let Some(j) = stack.pop() {
                    order.push(j);
                    if let Some(id) = id_of(&items[j]) {
                        placed.insert(id.to_string());
                        if let Some(children) = waiting.remove(id) {
                            stack.extend(children.into_iter().rev());
                        }
                    }
                }
            }
        }
    }
    let mut looped: Vec<usize> = waiting.into_values().flatten().collect();
    looped.sort_unstable();
    order.extend(looped);
    let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn children_listed_before_their_parent_get_the_full_path_and_move_after_it() {
        // The reference's own file order: `journal` renamed after its children were created.
        let items = vec![
            json!({"id": "j-2024", "parentId": "journal"}),
            json!({"id": "j-q1", "parentId": "j-2024"}),
            json!({"id": "journal", "parentId": null}),
            json!({"id": "gone", "deleted": 1.0, "path": "labo/gone/"}),
        ];
        let p = paths(&items, &HashMap::new()).unwrap();
        assert_eq!(p["j-q1"], "journal/j-2024/j-q1/");
        assert_eq!(p["gone"], "labo/gone/");
        let ids: Vec<String> = parents_first(items)
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids, ["journal", "j-2024", "j-q1", "gone"]);
    }

    #[test]
    fn a_loop_is_refused_for_paths_and_put_last_for_order() {
        let items = vec![
            json!({"id": "a", "parentId": "b"}),
            json!({"id": "b", "parentId": "a"}),
            json!({"id": "root"}),
        ];
        assert!(paths(&items, &HashMap::new()).is_err());
        assert_eq!(parents_first(items)[0]["id"], "root");
    }
}
