// llama.cpp's tokenizer (node-llama-cpp's prebuilt CPU binary) on many texts with a vocabulary-only load:
//   node tokenize_texts.mjs VOCAB.gguf TEXTS.json   (TEXTS.json: a JSON array of strings)
// prints one JSON array of ids per text, one per line: tokenize(text, specials = false) as llama.cpp's
// tests/test-tokenizer-0 does (no BOS, control tokens as text).
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [vocabPath, textsPath] = process.argv.slice(2);
if (vocabPath == null || textsPath == null) {
    process.stderr.write("usage: node tokenize_texts.mjs VOCAB.gguf TEXTS.json\n");
    process.exit(2);
}
const texts = JSON.parse(readFileSync(textsPath, "utf8"));
const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
    progressLogs: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: vocabPath, vocabOnly: true});
const lines = texts.map((text) => JSON.stringify(Array.from(model.tokenize(text, false))));
await model.dispose();
await llama.dispose();
process.stdout.write(lines.join("\n") + "\n");
