// Checks llama.cpp's tokenizer (through node-llama-cpp's prebuilt CPU binary) against the
// vectors llama.cpp ships next to its vocab-only GGUF files: VOCAB.gguf.inp holds texts
// separated by "\n__ggml_vocab_test__\n", VOCAB.gguf.out one line of ids per text
// (tests/test-tokenizer-0: no BOS, specials parsed as text).
//   node check_vocab.mjs VOCAB.gguf   -> prints "N passed, M failed", exit 1 on any failure
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const vocabPath = process.argv[2];
if (vocabPath == null) {
    process.stderr.write("usage: node check_vocab.mjs VOCAB.gguf\n");
    process.exit(2);
}
const texts = readFileSync(`${vocabPath}.inp`, "utf8").split("\n__ggml_vocab_test__\n");
if (texts.length > 0 && texts[texts.length - 1] === "") texts.pop();
const expected = readFileSync(`${vocabPath}.out`, "utf8").split("\n");
const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
    progressLogs: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: vocabPath, vocabOnly: true});
let passed = 0, failed = 0;
texts.forEach((text, index) => {
    const want = expected[index].trim();
    const got = Array.from(model.tokenize(text, false)).join(" ");
    if (got === want) passed++;
    else {
        failed++;
        process.stderr.write(`case ${index} ${JSON.stringify(text)}: want [${want}] got [${got}]\n`);
    }
});
await model.dispose();
await llama.dispose();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
