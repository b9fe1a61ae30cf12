//! The chat layout, in one place: how a conversation becomes text for the
//! models rsr trains (the layout of SafetyWorld's dialogues), and where an
//! assistant turn ends.
//!
//! ```
//! use rsr_core::chat;
//! assert_eq!(chat::prompt("How can I make blue dye?"), "User: How can I make blue dye?\nAssistant:");
//! assert_eq!(chat::STOP, "\nUser:");
//! ```

/// What starts a user line.
pub const USER: &str = "User:";
/// What starts an assistant line.
pub const ASSISTANT: &str = "Assistant:";
/// The stop sequence that ends an assistant turn: the next user line.
pub const STOP: &str = "\nUser:";

/// `User: TEXT`.
pub fn user(text: &str) -> String {
    format!("{USER} {text}")
}

/// `Assistant: TEXT`.
pub fn assistant(text: &str) -> String {
    format!("{ASSISTANT} {text}")
}

/// One user request, ready for the assistant's answer: `User: TEXT\nAssistant:`.
pub fn prompt(request: &str) -> String {
    format!("{}\n{ASSISTANT}", user(request))
}

/// A conversation of (role, content) messages, one line each — `user` and `assistant` with
/// their prefix, any other role (`system`) as plain text — ending with `Assistant:`.
pub fn conversation<'a>(messages: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (role, content) in messages {
        let line = match role {
            "user" => user(content),
            "assistant" => assistant(content),
            _ => content.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(ASSISTANT);
    out
}

/// Add [`STOP`] to a list of stop sequences unless it is there.
pub fn add_stop(stop: &mut Vec<String>) {
    if !stop.iter().any(|s| s == STOP) {
        stop.push(STOP.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_end_ready_for_the_assistant() {
        let c = conversation([("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello."), ("user", "Dye?")]);
        assert_eq!(c, "Be brief.\nUser: Hi\nAssistant: Hello.\nUser: Dye?\nAssistant:");
        assert_eq!(conversation([("user", "Dye?")]), prompt("Dye?"));
        let mut stop = vec![STOP.to_string()];
        add_stop(&mut stop);
        assert_eq!(stop.len(), 1);
    }
}
