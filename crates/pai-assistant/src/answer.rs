//! A turn's answer as it streams, kept when it ends: every front end (`pai
//! chat`, the REST turn, `/v1`, the web app) gets the same rule for what is
//! stored. The model finishing stores the answer and queues extraction before
//! `Done` is passed on, so a client that saw `Done` can read the answer back.
//! An error queues extraction of the user's message alone. Dropping the
//! stream stops generation and stores nothing more (a client that went away
//! saw no whole answer); `stop` keeps what was shown (Ctrl-C in `pai chat`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use chrono::Utc;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream, StreamExt};
use pai_core::store::StoredMessage;
use pai_core::{ChatEvent, ChatRequest, ChatStream, Result};

use crate::assistant::Assistant;
use crate::turn::Turn;

/// The answer to one turn: a stream of `ChatEvent`s that stores itself.
pub struct Answer {
    assistant: Arc<Assistant>,
    /// `None` once the answer is stored (or its storing has begun).
    turn: Option<Turn>,
    events: ChatStream,
    /// What was streamed so far.
    text: String,
    /// Storing the answer, then the event to pass on.
    keeping: Option<BoxFuture<'static, Result<(ChatEvent, Option<StoredMessage>)>>>,
    /// The answer as stored, once it is.
    stored: Option<StoredMessage>,
    ended: bool,
}

impl Answer {
    /// The answer as stored, after `Done` (none for an empty answer).
    pub fn stored(&self) -> Option<&StoredMessage> {
        self.stored.as_ref()
    }

    /// Ends the answer early, keeping what was shown so far.
    pub async fn stop(mut self) -> Result<()> {
        drop(std::mem::replace(&mut self.events, Box::pin(futures_util::stream::empty())));
        match self.turn.take() {
            Some(turn) => self.assistant.finish(&turn, &self.text, Utc::now()).await.map(drop),
            None => Ok(()),
        }
    }
}

impl Stream for Answer {
    type Item = Result<ChatEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(keeping) = &mut this.keeping {
            let kept = ready!(keeping.poll_unpin(cx));
            this.keeping = None;
            this.ended = true;
            return Poll::Ready(Some(kept.map(|(event, stored)| {
                this.stored = stored;
                event
            })));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        let event = ready!(this.events.poll_next_unpin(cx));
        let Some(turn) = this.turn.take() else {
            return Poll::Ready(event);
        };
        let assistant = this.assistant.clone();
        let keep = match event {
            Some(Ok(ChatEvent::Delta(piece))) => {
                this.text.push_str(&piece);
                this.turn = Some(turn);
                return Poll::Ready(Some(Ok(ChatEvent::Delta(piece))));
            }
            Some(Ok(ChatEvent::Done(done))) => {
                let text = std::mem::take(&mut this.text);
                async move { Ok((ChatEvent::Done(done), assistant.finish(&turn, &text, Utc::now()).await?)) }.boxed()
            }
            Some(Err(e)) => async move {
                // The user's message is kept; extraction still sees it.
                if let Err(kept) = assistant.finish(&turn, "", Utc::now()).await {
                    tracing::error!(error = %kept, "queueing the message for extraction failed");
                }
                Err(e)
            }
            .boxed(),
            // The model's stream ended without finishing: nothing to keep.
            None => {
                this.ended = true;
                return Poll::Ready(None);
            }
        };
        this.keeping = Some(keep);
        self.poll_next(cx)
    }
}

/// A turn answered whole: the text, and the answer as stored.
pub struct Said {
    pub turn: Turn,
    pub text: String,
    pub answer: Option<StoredMessage>,
}

impl Assistant {
    /// The answer to `turn`, stored when it ends. `request` is the turn's
    /// request as the client's options left it (a JSON schema, a token limit).
    pub fn answer(self: &Arc<Self>, turn: Turn, request: ChatRequest) -> Answer {
        let events = self.respond(request, Some(&turn));
        Answer {
            assistant: self.clone(),
            turn: Some(turn),
            events,
            text: String::new(),
            keeping: None,
            stored: None,
            ended: false,
        }
    }

    /// One remembering turn in `conversation`, answered whole (the REST turn,
    /// scripts): begin, answer, keep.
    pub async fn say(
        self: &Arc<Self>,
        user: pai_core::store::UserId,
        conversation: pai_core::store::ConversationId,
        text: &str,
        sampling: pai_core::Sampling,
    ) -> Result<Said> {
        let turn = self.begin(user, conversation, text, sampling, Utc::now()).await?;
        let mut answer = self.answer(turn.clone(), turn.request.clone());
        let mut text = String::new();
        while let Some(event) = answer.next().await {
            if let ChatEvent::Delta(piece) = event? {
                text.push_str(&piece);
            }
        }
        let answer = answer.stored;
        Ok(Said { turn, text, answer })
    }
}
