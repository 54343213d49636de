//! Which fields of an event or access take part in its integrity hash (representation
//! version 0 of `@pryv/stable-object-representation`).

use super::js_value::{to_number, JsValue, Text};

/// Properties of a JavaScript object held as a list: get, set (keeping position), remove.
struct Props<'p, 'a>(&'p mut Vec<(Text<'a>, JsValue<'a>)>);

impl<'a> Props<'_, 'a> {
    fn get(&self, key: &str) -> Option<&JsValue<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    fn set(&mut self, key: &'static str, value: JsValue<'a>) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((Text::Borrowed(key), value)),
        }
    }

    /// JavaScript's `x == null`: missing or null.
    fn is_nullish(&self, key: &str) -> bool {
        matches!(self.get(key), None | Some(JsValue::Null))
    }
}

/// Event fields the hash leaves out whatever their value (besides `integrity` and `headId`,
/// which the check reads first).
pub(crate) const EVENT_UNHASHED: &[&str] = &["tags"];

/// Access fields the hash leaves out whatever their value (besides `integrity`): usage
/// tracking changes without the access changing.
pub(crate) const ACCESS_UNHASHED: &[&str] = &["lastUsed", "calls", "apiEndpoint"];

/// Applies the event rules to the (already deep-copied) event.
pub(crate) fn event(value: &mut JsValue<'_>) {
    let JsValue::Object(entries) = value else {
        return;
    };
    let mut e = Props(entries);
    // The stored hash itself, the history link and the deprecated tags are not hashed.
    e.remove("integrity");
    e.remove("headId");
    for unhashed in EVENT_UNHASHED {
        e.remove(unhashed);
    }

    // Storage keeps `endTime`; the API (and so the hash) speaks of `duration`.
    match e.get("endTime") {
        None => {}
        Some(JsValue::Null) => e.set("duration", JsValue::Null),
        Some(end) => {
            let duration = to_number(Some(end)) - to_number(e.get("time"));
            e.set("duration", JsValue::Number(duration));
        }
    }
    e.remove("endTime");
    // A zero duration is the same as no duration.
    if matches!(e.get("duration"), Some(JsValue::Number(d)) if *d == 0.0) {
        e.remove("duration");
    }

    if !e.get("trashed").is_some_and(JsValue::is_truthy) {
        e.remove("trashed");
    }

    // Read tokens are derived secrets, not content. Shapes on which the reference throws
    // (non-iterable values, null elements) cannot carry a stored hash: left untouched.
    if let Some((_, JsValue::Array(attachments))) = e.0.iter_mut().find(|(k, _)| k == "attachments")
    {
        for attachment in attachments {
            if let JsValue::Object(fields) = attachment {
                fields.retain(|(k, _)| k != "readToken");
            }
        }
    }

    if e.is_nullish("deleted") {
        e.remove("deleted");
    }

    // Legacy single `streamId` is hashed as `streamIds: [streamId]`. When both exist the
    // reference requires them to agree (it throws otherwise) and keeps `streamIds`.
    if !e.is_nullish("streamId") {
        if e.is_nullish("streamIds") {
            if let Some(stream_id) = e.get("streamId").cloned() {
                e.set("streamIds", JsValue::Array(vec![stream_id]));
            }
        }
        e.remove("streamId");
    }
}

/// Applies the access rules to the (already deep-copied) access.
pub(crate) fn access(value: &mut JsValue<'_>) {
    let JsValue::Object(entries) = value else {
        return;
    };
    let mut a = Props(entries);
    a.remove("integrity");
    for unhashed in ACCESS_UNHASHED {
        a.remove(unhashed);
    }
    if a.is_nullish("deleted") {
        a.remove("deleted");
    }
}
