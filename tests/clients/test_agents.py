"""The OpenAI Agents SDK (openai-agents) against pai: one agent with one
function tool, on its Chat Completions model (tool call, the result back to
the model, a final answer) and on its default model, which speaks the
Responses API (/v1/responses). Tracing is off (it would upload to OpenAI).

The tiny model would call the tool again and again when it may; the tool
turns itself off once called (`is_enabled`), so the second turn has to answer."""

from common import KEY, V1, case, expect, finish
from openai import AsyncOpenAI

from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    Runner,
    ToolCallItem,
    ToolCallOutputItem,
    function_tool,
    set_default_openai_client,
    set_tracing_disabled,
)

C = "openai-agents"
set_tracing_disabled(True)
calls = []


@function_tool(is_enabled=lambda ctx, agent: not calls)
def get_weather(city: str) -> str:
    """Current weather in a city."""
    calls.append(city)
    return f"Sunny and 21 degrees in {city}."


def agent(model, **kw):
    return Agent(
        name="weather",
        instructions="You answer questions about the weather. Use the get_weather tool.",
        tools=[get_weather],
        model=model,
        model_settings=ModelSettings(tool_choice="required", max_tokens=96, temperature=0),
        **kw,
    )


def check_tool_items(result):
    made = [i for i in result.new_items if isinstance(i, ToolCallItem)]
    outputs = [i for i in result.new_items if isinstance(i, ToolCallOutputItem)]
    expect(calls and made and outputs, f"calls {calls}, items {[type(i).__name__ for i in result.new_items]}")


@case(C, "chat completions model: get_weather called, its result back to the model, a final answer")
async def _():
    calls.clear()
    async with AsyncOpenAI(base_url=V1, api_key=KEY, max_retries=0, timeout=120) as client:
        model = OpenAIChatCompletionsModel(model="pai", openai_client=client)
        result = await Runner.run(agent(model), "What is the weather in Paris?", max_turns=3)
    check_tool_items(result)
    expect(isinstance(result.final_output, str), repr(result.final_output))


@case(C, "default model (Responses API, /v1/responses): get_weather called")
async def _():
    calls.clear()
    async with AsyncOpenAI(base_url=V1, api_key=KEY, max_retries=0, timeout=120) as client:
        set_default_openai_client(client, use_for_tracing=False)
        result = await Runner.run(agent("pai", tool_use_behavior="stop_on_first_tool"), "What is the weather in Paris?", max_turns=2)
    check_tool_items(result)
    expect(str(result.final_output).startswith("Sunny"), repr(result.final_output))


finish()
