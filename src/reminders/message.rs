//! The body a webhook receives: the owner's template (or the format's default) filled
//! with `%subject%`, `%date%`, `%description%`, `%location%` and `%calendar%`, wrapped
//! in the JSON each chat service reads.

use davgate_storage::WebhookFormat;
use serde_json::{Value, json};

/// The fields a template may name.
pub const FIELDS: [&str; 5] = ["subject", "date", "description", "location", "calendar"];

/// The message when the owner wrote no template.
pub fn default_template(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::Slack => "Reminder: *%subject%*, %date%\n%location%\n%description%",
        WebhookFormat::Discord => "Reminder: **%subject%**, %date%\n%location%\n%description%",
        WebhookFormat::Teams | WebhookFormat::Json => {
            "Reminder: %subject%, %date%\n%location%\n%description%"
        }
    }
}

/// `template` with each `%field%` replaced; lines left empty by a missing field are
/// dropped, so a default template reads well for an event without a location.
pub fn render(template: &str, fields: &Value) -> String {
    let mut text = template.to_owned();
    for name in FIELDS {
        let value = fields.get(name).and_then(Value::as_str).unwrap_or_default();
        text = text.replace(&format!("%{name}%"), value);
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("\n")
}

/// The JSON body for `format`: `fields` as stored by the scheduler, `late` when the
/// alarm goes out after it came due while no worker ran.
pub fn payload(format: WebhookFormat, template: Option<&str>, fields: &Value, late: bool) -> Value {
    let template = template.unwrap_or(default_template(format));
    let mut text = render(template, fields);
    if late && format != WebhookFormat::Json {
        text.push_str("\n(sent late: the server was not running when this reminder came due)");
    }
    match format {
        WebhookFormat::Slack => json!({ "text": text }),
        WebhookFormat::Discord => json!({ "content": text }),
        WebhookFormat::Teams => json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{ "type": "TextBlock", "text": text, "wrap": true }],
                },
            }],
        }),
        WebhookFormat::Json => {
            let mut all = fields.clone();
            if let Some(map) = all.as_object_mut() {
                map.insert("text".into(), Value::String(text));
                map.insert("late".into(), Value::Bool(late));
            }
            all
        }
    }
}

/// Fields for `webhook test`: a sample event.
pub fn sample_fields(calendar: &str) -> Value {
    json!({
        "subject": "Test reminder from davgate",
        "date": "now",
        "description": "If you read this, reminders reach this destination.",
        "location": "",
        "calendar": calendar,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Value {
        json!({"subject": "Standup", "date": "Tue 10 Mar 2026 09:00 Europe/Berlin",
               "description": "", "location": "Room 1", "calendar": "Work", "uid": "u"})
    }

    #[test]
    fn templates_fill_fields_and_drop_empty_lines() {
        assert_eq!(
            render(
                "%subject% @ %location% (%calendar%)\n%description%\n",
                &fields()
            ),
            "Standup @ Room 1 (Work)"
        );
        assert_eq!(
            payload(WebhookFormat::Slack, None, &fields(), false),
            json!({"text": "Reminder: *Standup*, Tue 10 Mar 2026 09:00 Europe/Berlin\nRoom 1"})
        );
        assert_eq!(
            payload(WebhookFormat::Discord, Some("%subject%"), &fields(), false),
            json!({"content": "Standup"})
        );
        let teams = payload(WebhookFormat::Teams, Some("%subject%"), &fields(), false);
        assert_eq!(
            teams["attachments"][0]["content"]["body"][0]["text"],
            "Standup"
        );
        let all = payload(WebhookFormat::Json, Some("%subject%"), &fields(), true);
        assert_eq!(
            (all["text"].as_str(), all["late"].as_bool()),
            (Some("Standup"), Some(true))
        );
        assert_eq!(all["uid"], "u");
    }
}
