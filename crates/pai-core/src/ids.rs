//! The id of each kind of row, a type each so that one is never passed for
//! another. Their own module: the store, reminders and chat all name them,
//! and none of those needs the others for it.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
id_type!(UserId, ConversationId, MessageId, MemoryId, JobId, ImportId, DocumentId, ChunkId, ReminderId, NotificationId);
