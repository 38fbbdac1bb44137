import OpenAI from "openai";
import { Tokage } from "@tokage/sdk";

const tokage = new Tokage({ apiKey: process.env.TOKAGE_API_KEY, endpoint: process.env.TOKAGE_ENDPOINT });
const openai = tokage.wrapOpenAI(new OpenAI()); // OPENAI_API_KEY (and OPENAI_BASE_URL) from the environment

await tokage.withScope({ customer: "acme", user: "u-1" }, async () => {
  const answer = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello." }] });
  console.log(answer.choices[0].message.content);
});
await tokage.shutdown(); // sends what is still queued
