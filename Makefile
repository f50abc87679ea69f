# The two commands of the README, and what they stand on. Every target installs
# what it needs first and is safe to run again.

CARGO ?= cargo

.PHONY: run test bench build deps fetch-models

## run: build pai and start a terminal chat on the default local model
run: build fetch-models
	./target/release/pai chat

## test: the whole test suite (unit, end-to-end on the real default models,
## `pai serve` through the official OpenAI Python SDK and curl, through the
## clients people use (LangChain, LiteLLM, llm, Agents SDK, openai npm, Vercel
## AI SDK, a browser page on another origin, a TypeScript client generated
## from /openapi.json), the web app in headless
## Chromium, kill -9 under write load on SQLite and PostgreSQL (every
## acknowledged write read back), 150 s of schemathesis (no 5xx, every response as described), 30 s of fuzzing per parser, and samples of bench/conversation.sh
## (gated), bench/grounded.sh and bench/summaries.sh on the real default model)
# One profile (release) for tests, run and bench: llama.cpp compiles once.
test: deps fetch-models
	$(CARGO) test --release --workspace
	$(CARGO) build --release -p pai
	tests/openai-sdk/run.sh
	tests/clients/run.sh
	tests/web/run.sh
	tests/crash.sh
	tests/schemathesis/run.sh
	bench/fuzz.sh --sample
	bench/conversation.sh --sample --gate
	bench/grounded.sh --sample
	bench/summaries.sh --sample

## bench: pai's engine against llama.cpp's llama-bench on the default model
bench: deps fetch-models
	bench/engine.sh

build: deps
	$(CARGO) build --release -p pai

deps:
	@scripts/install-deps.sh

fetch-models: deps
	@scripts/fetch-models.sh
