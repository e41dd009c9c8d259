// The official openai Node SDK as an app would use it: no baseURL, configured
// only by its environment. Prints one JSON line: the reply, or the error chain.
import OpenAI from "openai";

const mode = process.argv[2];
const client = new OpenAI({ apiKey: "sk-test-interception", maxRetries: 0, timeout: 10000 });
const messages = [{ role: "user", content: "Say hello" }];
let out;
try {
  if (mode === "stream") {
    const stream = await client.chat.completions.create({ model: "gpt-4o-mini", messages, stream: true });
    const parts = [];
    for await (const chunk of stream) if (chunk.choices.length) parts.push(chunk.choices[0].delta.content ?? "");
    out = { ok: true, content: parts.join(""), chunks: parts.length };
  } else {
    const reply = await client.chat.completions.create({ model: "gpt-4o-mini", messages });
    out = { ok: true, content: reply.choices[0].message.content, base_url: client.baseURL };
  }
} catch (err) {
  const chain = [];
  for (let cur = err; cur; cur = cur.cause) chain.push(`${cur.constructor.name}: ${cur.code ?? ""} ${cur.message}`);
  out = { ok: false, error: chain };
}
console.log(JSON.stringify(out));
