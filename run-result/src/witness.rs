//! The evidence of an order conflict: two messages of one room that two members received in
//! opposite orders, with what each member saw and when.

use serde::{Deserialize, Serialize};

/// One message of a room: its sender (the index among the room's senders) and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageId {
    pub sender: u32,
    pub seq: u32,
}

/// One member's view of the two messages: which came first, and when each came (microseconds
/// on the run clock) where it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    /// The member's stay, numbered in the order stays began in this loadgen process.
    pub stay: u32,
    pub first: MessageId,
    pub first_us: u64,
    pub then: MessageId,
    /// Absent where loadgen keeps only that the member got it: the member that received
    /// `first` before anyone else received either, when it read `then` before any other
    /// member's view contradicted its own (loadgen watches for that time only from then on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub then_us: Option<u64>,
}

/// An order conflict: `one` received `a` then `b`, `other` received `b` then `a`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderWitness {
    pub room: u32,
    pub one: View,
    pub other: View,
}

impl std::fmt::Display for OrderWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = |m: MessageId| format!("{}#{}", m.sender, m.seq);
        let ms = |us: u64| format!("{:.3} s", us as f64 / 1e6);
        let view = |v: &View| {
            let then = v
                .then_us
                .map_or_else(|| "later".to_owned(), |us| format!("at {}", ms(us)));
            format!(
                "member {} got {} at {}, then {} {}",
                v.stay,
                id(v.first),
                ms(v.first_us),
                id(v.then),
                then
            )
        };
        write!(
            f,
            "room {}: {}; {}",
            self.room,
            view(&self.one),
            view(&self.other)
        )
    }
}

/// A causal violation: a member received an answer before the message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausalWitness {
    pub room: u32,
    /// The member's stay, numbered as in [`View::stay`].
    pub stay: u32,
    pub answer: MessageId,
    pub answer_us: u64,
    /// The message answered, which its sender had received before it answered.
    pub question: MessageId,
    pub question_us: u64,
}

impl std::fmt::Display for CausalWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "room {}: member {} got the answer {}#{} at {:.3} s before the message it answers, \
             {}#{}, at {:.3} s",
            self.room,
            self.stay,
            self.answer.sender,
            self.answer.seq,
            self.answer_us as f64 / 1e6,
            self.question.sender,
            self.question.seq,
            self.question_us as f64 / 1e6
        )
    }
}
