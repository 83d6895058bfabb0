// Tokenizes texts with @huggingface/tokenizers (tokenizers.js, a pure JavaScript implementation of the
// Hugging Face tokenizers), the reference for qforge's tokenizer.json reader and writer.
//   node encode.mjs TOKENIZER.json TEXTS.json   (TEXTS.json: a JSON array of strings)
// prints one JSON array of ids per text, one per line: encode(text, {add_special_tokens: false}), so
// added tokens in the text are split out but no BOS/EOS is added.
import {readFileSync} from "node:fs";
import {Tokenizer} from "@huggingface/tokenizers";

const [tokenizerPath, textsPath] = process.argv.slice(2);
if (tokenizerPath == null || textsPath == null) {
    process.stderr.write("usage: node encode.mjs TOKENIZER.json TEXTS.json\n");
    process.exit(2);
}
const tokenizer = new Tokenizer(JSON.parse(readFileSync(tokenizerPath, "utf8")), {});
const texts = JSON.parse(readFileSync(textsPath, "utf8"));
const lines = texts.map((text) => JSON.stringify(tokenizer.encode(text, {add_special_tokens: false}).ids));
process.stdout.write(lines.join("\n") + "\n");
