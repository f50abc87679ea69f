//! The trait impls of a backend, written once: each method hands its
//! arguments to the function of the same name in the backend's modules
//! (`users`, `messages`, `memories`, `search`, `jobs`, `imports`,
//! `documents`, `vectors`, `reminders`), which both backends have with the
//! same signatures over their own pool. Names resolve where the macro is
//! used, so the backend's `mod.rs` imports the types named here.

macro_rules! store_impls {
    ($store:ident) => {
        #[async_trait::async_trait]
        impl pai_core::reminders::Reminders for $store {
            async fn create_reminder(
                &self,
                user: UserId,
                reminder: pai_core::reminders::NewReminder,
            ) -> Result<pai_core::reminders::Reminder> {
                reminders::create(&self.pool, user, reminder).await
            }

            async fn reminders(&self, user: UserId) -> Result<Vec<pai_core::reminders::Reminder>> {
                reminders::list(&self.pool, user).await
            }

            async fn reminder(
                &self,
                user: UserId,
                id: pai_core::store::ReminderId,
            ) -> Result<pai_core::reminders::Reminder> {
                reminders::get(&self.pool, user, id).await
            }

            async fn cancel_reminder(
                &self,
                user: UserId,
                id: pai_core::store::ReminderId,
            ) -> Result<pai_core::reminders::Reminder> {
                reminders::cancel(&self.pool, user, id).await
            }

            async fn claim_due_reminders(
                &self,
                owner: &str,
                now: DateTime<Utc>,
                lease_until: DateTime<Utc>,
                limit: usize,
            ) -> Result<Vec<pai_core::reminders::Reminder>> {
                reminders::claim(&self.pool, owner, now, lease_until, limit).await
            }

            async fn complete_reminder(
                &self,
                owner: &str,
                reminder: &pai_core::reminders::Reminder,
                due_at: DateTime<Utc>,
                fired_at: DateTime<Utc>,
                next: Option<DateTime<Utc>>,
            ) -> Result<Option<pai_core::reminders::Notification>> {
                reminders::complete(&self.pool, owner, reminder, due_at, fired_at, next).await
            }

            async fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
                reminders::next_due(&self.pool).await
            }

            async fn notifications(
                &self,
                user: UserId,
                limit: usize,
                before: Option<pai_core::store::NotificationId>,
            ) -> Result<Vec<pai_core::reminders::Notification>> {
                reminders::notifications(&self.pool, user, limit, before).await
            }

            async fn mark_notification_read(
                &self,
                user: UserId,
                id: pai_core::store::NotificationId,
            ) -> Result<pai_core::reminders::Notification> {
                reminders::mark_read(&self.pool, user, id).await
            }
        }

        #[async_trait::async_trait]
        impl Accounts for $store {
            async fn create_account(
                &self,
                name: &str,
                timezone: &str,
                password_hash: Option<&str>,
                admin: bool,
            ) -> Result<User> {
                users::create_user(&self.pool, name, timezone, password_hash, admin).await
            }

            async fn set_password(&self, user: UserId, password_hash: &str) -> Result<()> {
                users::set_password(&self.pool, user, password_hash).await
            }

            async fn login(&self, name: &str) -> Result<Option<(User, String)>> {
                users::login(&self.pool, name).await
            }

            async fn users(&self) -> Result<Vec<User>> {
                users::users(&self.pool).await
            }

            async fn count_users(&self) -> Result<u64> {
                users::count(&self.pool).await
            }

            async fn set_disabled(&self, user: UserId, disabled: bool) -> Result<User> {
                users::set_disabled(&self.pool, user, disabled).await
            }

            async fn set_timezone(&self, user: UserId, timezone: &str) -> Result<User> {
                users::set_timezone(&self.pool, user, timezone).await
            }

            async fn delete_user(&self, user: UserId) -> Result<()> {
                users::delete_user(&self.pool, user).await
            }

            async fn create_api_key(&self, user: UserId, name: &str, prefix: &str, digest: &str) -> Result<ApiKey> {
                users::create_api_key(&self.pool, user, name, prefix, digest).await
            }

            async fn api_keys(&self, user: UserId) -> Result<Vec<ApiKey>> {
                users::api_keys(&self.pool, user).await
            }

            async fn revoke_api_key(&self, user: UserId, id: KeyId) -> Result<ApiKey> {
                users::revoke_api_key(&self.pool, user, id).await
            }

            async fn authenticate_key(&self, digest: &str) -> Result<Option<(User, KeyId)>> {
                users::authenticate_key(&self.pool, digest).await
            }

            async fn create_session(
                &self,
                user: UserId,
                digest: &str,
                csrf: &str,
                expires_at: DateTime<Utc>,
            ) -> Result<()> {
                users::create_session(&self.pool, user, digest, csrf, expires_at).await
            }

            async fn session(&self, digest: &str) -> Result<Option<Session>> {
                users::session(&self.pool, digest).await
            }

            async fn delete_session(&self, digest: &str) -> Result<()> {
                users::delete_session(&self.pool, digest).await
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            async fn create_user(&self, name: &str, timezone: &str) -> Result<User> {
                users::create_user(&self.pool, name, timezone, None, false).await
            }

            async fn user(&self, id: UserId) -> Result<User> {
                users::user(&self.pool, id).await
            }

            async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
                users::user_by_name(&self.pool, name).await
            }

            async fn import_conversation(
                &self,
                user: UserId,
                title: &str,
                messages: Vec<NewMessage>,
                jobs: &[Vec<usize>],
            ) -> Result<(Conversation, Vec<StoredMessage>)> {
                messages::import_conversation(&self.pool, user, title, messages, jobs).await
            }

            async fn message_by_external_id(&self, user: UserId, external_id: &str) -> Result<Option<StoredMessage>> {
                messages::message_by_external_id(&self.pool, user, external_id).await
            }

            async fn create_conversation(&self, user: UserId, title: &str) -> Result<Conversation> {
                messages::create_conversation(&self.pool, user, title).await
            }

            async fn conversation(&self, user: UserId, id: ConversationId) -> Result<Conversation> {
                messages::conversation(&self.pool, user, id).await
            }

            async fn rename_conversation(&self, user: UserId, id: ConversationId, title: &str) -> Result<Conversation> {
                messages::rename_conversation(&self.pool, user, id, title).await
            }

            async fn delete_conversation(&self, user: UserId, id: ConversationId) -> Result<()> {
                messages::delete_conversation(&self.pool, user, id).await
            }

            async fn put_document(&self, user: UserId, document: NewDocument) -> Result<(Document, DocumentChange)> {
                documents::put(&self.pool, user, document).await
            }

            async fn documents(&self, user: UserId) -> Result<Vec<Document>> {
                documents::list(&self.pool, user).await
            }

            async fn document(&self, user: UserId, id: DocumentId) -> Result<Document> {
                documents::get(&self.pool, user, id).await
            }

            async fn documents_by_id(&self, user: UserId, ids: &[DocumentId]) -> Result<Vec<Document>> {
                documents::by_id(&self.pool, user, ids).await
            }

            async fn document_chunks(&self, user: UserId, id: DocumentId) -> Result<Vec<Chunk>> {
                documents::chunks(&self.pool, user, id).await
            }

            async fn chunks_by_id(&self, user: UserId, ids: &[ChunkId]) -> Result<Vec<Chunk>> {
                documents::chunks_by_id(&self.pool, user, ids).await
            }

            async fn delete_document(&self, user: UserId, id: DocumentId) -> Result<()> {
                documents::delete(&self.pool, user, id).await
            }

            async fn create_import(&self, user: UserId, file_name: &str, total: u64) -> Result<ImportRecord> {
                imports::create(&self.pool, user, file_name, total).await
            }

            async fn update_import(
                &self,
                user: UserId,
                id: ImportId,
                state: ImportState,
                done: u64,
                report: Option<serde_json::Value>,
                error: Option<&str>,
            ) -> Result<ImportRecord> {
                imports::update(&self.pool, user, id, state, done, report, error).await
            }

            async fn import_record(&self, user: UserId, id: ImportId) -> Result<ImportRecord> {
                imports::get(&self.pool, user, id).await
            }

            async fn imports(&self, user: UserId) -> Result<Vec<ImportRecord>> {
                imports::list(&self.pool, user).await
            }

            async fn fail_interrupted_imports(&self) -> Result<u64> {
                imports::fail_interrupted(&self.pool).await
            }

            async fn conversations(&self, user: UserId) -> Result<Vec<Conversation>> {
                messages::conversations(&self.pool, user).await
            }

            async fn add_messages(
                &self,
                user: UserId,
                conversation: ConversationId,
                new: Vec<NewMessage>,
            ) -> Result<Vec<StoredMessage>> {
                messages::add_messages(&self.pool, user, conversation, new).await
            }

            async fn messages(&self, user: UserId, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
                messages::messages(&self.pool, user, conversation).await
            }

            async fn messages_by_id(&self, user: UserId, ids: &[MessageId]) -> Result<Vec<StoredMessage>> {
                messages::messages_by_id(&self.pool, user, ids).await
            }

            async fn redact_message(&self, user: UserId, id: MessageId, content: &str) -> Result<StoredMessage> {
                messages::redact(&self.pool, user, id, content).await
            }

            async fn add_memory(&self, user: UserId, memory: NewMemory) -> Result<Memory> {
                memories::add(&self.pool, user, memory).await
            }

            async fn memory(&self, user: UserId, id: MemoryId) -> Result<Memory> {
                memories::get(&self.pool, user, id).await
            }

            async fn memories_by_id(&self, user: UserId, ids: &[MemoryId]) -> Result<Vec<Memory>> {
                memories::by_id(&self.pool, user, ids).await
            }

            async fn predecessors(&self, user: UserId, id: MemoryId) -> Result<Vec<Memory>> {
                memories::predecessors(&self.pool, user, id).await
            }

            async fn memories(&self, user: UserId, include_history: bool) -> Result<Vec<Memory>> {
                memories::list(&self.pool, user, include_history, None, None).await
            }

            async fn memories_page(
                &self,
                user: UserId,
                include_history: bool,
                before: Option<MemoryId>,
                limit: usize,
            ) -> Result<Vec<Memory>> {
                memories::list(&self.pool, user, include_history, before, Some(limit)).await
            }

            async fn update_memory(
                &self,
                user: UserId,
                id: MemoryId,
                text: &str,
                sources: &[MessageId],
            ) -> Result<Memory> {
                memories::update_one(&self.pool, user, id, text, sources).await
            }

            async fn supersede_memory(
                &self,
                user: UserId,
                old: MemoryId,
                new: NewMemory,
                at: DateTime<Utc>,
            ) -> Result<Memory> {
                memories::supersede_one(&self.pool, user, old, new, at).await
            }

            async fn delete_memory(&self, user: UserId, id: MemoryId) -> Result<()> {
                memories::delete_some(&self.pool, user, Some(id)).await.map(|_| ())
            }

            async fn delete_all_memories(&self, user: UserId) -> Result<u64> {
                memories::delete_some(&self.pool, user, None).await
            }

            async fn search_text(&self, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
                search::text(&self.pool, user, query, limit).await
            }

            async fn search_history(&self, user: UserId, query: &str, limit: usize) -> Result<Vec<TextHit>> {
                search::history(&self.pool, user, query, limit).await
            }

            async fn enqueue_extraction(
                &self,
                user: UserId,
                conversation: ConversationId,
                messages: &[MessageId],
            ) -> Result<ExtractionJob> {
                jobs::enqueue(&self.pool, user, conversation, messages).await
            }

            async fn claim_extraction_job(&self) -> Result<Option<ExtractionJob>> {
                self.claim_job().await
            }

            async fn fail_extraction_job(
                &self,
                user: UserId,
                job: JobId,
                error: &str,
                retry: bool,
            ) -> Result<ExtractionJob> {
                jobs::fail(&self.pool, user, job, error, retry).await
            }

            async fn release_extraction_job(&self, user: UserId, job: JobId) -> Result<ExtractionJob> {
                jobs::release(&self.pool, user, job).await
            }

            async fn complete_extraction_job(
                &self,
                user: UserId,
                job: JobId,
                decisions: Vec<Decision>,
            ) -> Result<Vec<DecisionRecord>> {
                jobs::complete(&self.pool, user, job, decisions).await
            }

            async fn apply_decisions(&self, user: UserId, decisions: Vec<Decision>) -> Result<Vec<DecisionRecord>> {
                jobs::apply_outside_job(&self.pool, user, decisions).await
            }

            async fn extraction_jobs(&self, user: UserId, state: Option<JobState>) -> Result<Vec<ExtractionJob>> {
                jobs::list(&self.pool, user, state).await
            }

            async fn retry_extraction_job(&self, user: UserId, job: JobId) -> Result<ExtractionJob> {
                jobs::retry(&self.pool, user, job).await
            }

            async fn extraction_job_counts(&self) -> Result<Vec<(JobState, u64)>> {
                jobs::counts(&self.pool).await
            }

            async fn requeue_interrupted_jobs(&self) -> Result<u64> {
                self.requeue_jobs().await
            }

            async fn decisions(&self, user: UserId, memory: Option<MemoryId>) -> Result<Vec<DecisionRecord>> {
                jobs::decisions(&self.pool, user, memory).await
            }

            async fn conversation_summary(
                &self,
                user: UserId,
                conversation: ConversationId,
            ) -> Result<Option<ConversationSummary>> {
                jobs::summary(&self.pool, user, conversation).await
            }

            async fn set_conversation_summary(
                &self,
                user: UserId,
                conversation: ConversationId,
                text: &str,
                through: MessageId,
            ) -> Result<()> {
                jobs::set_summary(&self.pool, user, conversation, text, through).await
            }

            fn vector_dimension(&self) -> usize {
                self.dimension
            }

            async fn put_vectors(&self, user: UserId, vectors: Vec<(ItemRef, Vec<f32>)>) -> Result<()> {
                vectors::put(&self.pool, self.dimension, user, vectors).await
            }

            async fn search_vectors(&self, user: UserId, query: &[f32], limit: usize) -> Result<Vec<VectorHit>> {
                vectors::search(&self.pool, self.dimension, user, query, limit).await
            }

            async fn items_without_vectors(&self, user: UserId, limit: usize) -> Result<Vec<ItemRef>> {
                vectors::missing(&self.pool, user, limit).await
            }

            async fn claim_items_without_vectors(
                &self,
                user: UserId,
                limit: usize,
                until: DateTime<Utc>,
            ) -> Result<Vec<ItemRef>> {
                vectors::claim_missing(&self.pool, user, limit, until).await
            }

            async fn users_with_unembedded_items(&self, limit: usize) -> Result<Vec<UserId>> {
                vectors::users_missing(&self.pool, limit).await
            }
        }
    };
}
pub(crate) use store_impls;
