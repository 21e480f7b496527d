//! Causal order under load: answers (`--replies`) and the check that no member receives an
//! answer before the message it answers.
//!
//! A sending member that receives a measured message of another sender answers it by chance:
//! its next scheduled send names that message in its stamp (the schedule is unchanged, so the
//! load is the same with and without answers). The answer is sent after its sender received
//! the question, so by the core rule "in order of broadcast" every member that gets both gets
//! the question first.
//!
//! The check, per stay: an answer whose question the member has not had yet is kept
//! (bounded: [`PENDING`] per stay; more are not checked, and counted as `causal_unchecked`);
//! the question arriving later is a violation. A question that never arrives is loss, counted as missing, not here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use run_result::Totals;
use run_result::witness::{CausalWitness, MessageId};

use crate::send::SendState;
use crate::stats::Seen;

/// Answers kept per stay whose question has not come yet (24 bytes each and the map's own).
pub const PENDING: usize = 4096;

/// A sending member's side: whether to answer what it receives.
#[derive(Debug)]
pub struct Answering {
    chance: f64,
    rng: StdRng,
    /// The sender's state, where the next send picks the message to answer.
    state: Rc<RefCell<SendState>>,
}

impl Answering {
    pub fn new(chance: f64, seed: u64, state: Rc<RefCell<SendState>>) -> Self {
        Self {
            chance,
            rng: StdRng::seed_from_u64(seed),
            state,
        }
    }

    /// A measured message of another sender came: answer it by chance (the latest chosen
    /// is the one the next send answers).
    pub fn received(&mut self, sender: u32, seq: u32) {
        if self.rng.random::<f64>() < self.chance {
            self.state.borrow_mut().answer = Some((sender, seq));
        }
    }
}

/// One stay's answers seen before their questions.
#[derive(Debug, Default)]
pub struct Causal {
    /// By question (sender, seq): the answer and when it came.
    early: HashMap<(u32, u32), (MessageId, u64)>,
}

impl Causal {
    /// A measured delivery, new to this stay (`seen` already marks it): checks it as an
    /// answer and as a question.
    pub fn delivered(
        &mut self,
        delivery: Delivery,
        seen: &[Seen],
        stats: &mut Totals,
        (room, stay): (u32, u32),
    ) {
        let Delivery {
            sender,
            seq,
            answers,
            now_us,
        } = delivery;
        if let Some((q_sender, q_seq)) = answers {
            let had = seen.get(q_sender as usize).is_some_and(|s| s.has(q_seq));
            if !had && self.early.len() < PENDING {
                self.early
                    .insert((q_sender, q_seq), (MessageId { sender, seq }, now_us));
            } else if !had {
                stats.causal_unchecked += 1;
            }
        }
        if self.early.is_empty() {
            return;
        }
        if let Some((answer, answer_us)) = self.early.remove(&(sender, seq)) {
            stats.causal_violations += 1;
            if stats.causal_witness.is_none() {
                stats.causal_witness = Some(CausalWitness {
                    room,
                    stay,
                    answer,
                    answer_us,
                    question: MessageId { sender, seq },
                    question_us: now_us,
                });
            }
        }
    }
}

/// What the causal check needs of a delivery.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub sender: u32,
    pub seq: u32,
    pub answers: Option<(u32, u32)>,
    pub now_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(marks: &[(usize, u32)]) -> Vec<Seen> {
        let mut seen = vec![Seen::default(); 3];
        for (sender, seq) in marks {
            seen[*sender].mark(*seq);
        }
        seen
    }

    fn at(sender: u32, seq: u32, answers: Option<(u32, u32)>, now_us: u64) -> Delivery {
        Delivery {
            sender,
            seq,
            answers,
            now_us,
        }
    }

    #[test]
    fn an_answer_after_its_question_is_fine_and_before_it_a_violation() {
        let mut totals = Totals::default();
        let mut causal = Causal::default();
        // The question 0#4 first, then 1#0 answering it.
        causal.delivered(at(0, 4, None, 1), &seen(&[(0, 4)]), &mut totals, (7, 2));
        let both = seen(&[(0, 4), (1, 0)]);
        causal.delivered(at(1, 0, Some((0, 4)), 2), &both, &mut totals, (7, 2));
        assert_eq!(totals.causal_violations, 0);
        // 1#1 answers 0#5, which comes after it.
        causal.delivered(
            at(1, 1, Some((0, 5)), 3),
            &seen(&[(1, 1)]),
            &mut totals,
            (7, 2),
        );
        assert_eq!(totals.causal_violations, 0);
        causal.delivered(
            at(0, 5, None, 4),
            &seen(&[(1, 1), (0, 5)]),
            &mut totals,
            (7, 2),
        );
        assert_eq!(totals.causal_violations, 1);
        let w = totals.causal_witness.expect("a witness");
        assert_eq!(
            (
                w.room,
                w.stay,
                w.answer.seq,
                w.question.seq,
                w.answer_us,
                w.question_us
            ),
            (7, 2, 1, 5, 3, 4)
        );
    }

    #[test]
    fn a_question_that_never_comes_is_no_violation() {
        let mut totals = Totals::default();
        let mut causal = Causal::default();
        causal.delivered(
            at(1, 1, Some((0, 5)), 3),
            &seen(&[(1, 1)]),
            &mut totals,
            (0, 0),
        );
        causal.delivered(
            at(0, 6, None, 4),
            &seen(&[(1, 1), (0, 6)]),
            &mut totals,
            (0, 0),
        );
        assert_eq!(totals.causal_violations, 0);
    }

    #[test]
    fn answers_past_the_bound_are_counted_unchecked() {
        let mut totals = Totals::default();
        let mut causal = Causal::default();
        let none = seen(&[]);
        for q in 0..=PENDING as u32 {
            causal.delivered(at(1, q, Some((0, q)), 1), &none, &mut totals, (0, 0));
        }
        assert_eq!(totals.causal_unchecked, 1);
        // The last question's answer was not kept: its question arriving is no violation.
        let q = PENDING as u32;
        causal.delivered(at(0, q, None, 2), &seen(&[(0, q)]), &mut totals, (0, 0));
        assert_eq!(totals.causal_violations, 0);
        causal.delivered(at(0, 0, None, 3), &seen(&[(0, 0)]), &mut totals, (0, 0));
        assert_eq!(totals.causal_violations, 1);
    }
}
