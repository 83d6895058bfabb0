// llama.cpp generating from a GGUF file (greedy), through node-llama-cpp's prebuilt CPU binary:
//
//   node generate.mjs MODEL.gguf "prompt text" N   -> {"prompt_tokens":[...],"tokens":[...],"text":"..."}
//
// The prompt is tokenized by llama.cpp from the file's own vocabulary (no BOS: qforge's exports set
// add_bos_token false), then N tokens are chosen greedily (temperature 0) by llama.cpp's sampler and
// detokenized by llama.cpp. Used by `make demo` to show the exported file running in llama.cpp.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function usage(message) {
    process.stderr.write(`generate.mjs: ${message}\nusage: node generate.mjs MODEL.gguf PROMPT N\n`);
    process.exit(2);
}

async function main() {
    const [modelPath, prompt, countText] = process.argv.slice(2);
    if (modelPath == null || prompt == null || countText == null) usage("missing arguments");
    if (!/^\d+$/.test(countText) || Number(countText) < 1) usage(`N '${countText}' is not a positive integer`);
    const count = Number(countText);
    const llama = await getLlama({gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true,
                                  progressLogs: false, logLevel: LlamaLogLevel.error});
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    const promptTokens = Array.from(model.tokenize(prompt, false));
    if (promptTokens.length === 0) usage("the prompt tokenizes to no tokens");
    const contextLimit = model.trainContextSize;
    if (promptTokens.length + count > contextLimit)
        usage(`prompt (${promptTokens.length} tokens) + N (${count}) exceeds the model's context of ${contextLimit}`);
    const context = await model.createContext({contextSize: contextLimit, sequences: 1, flashAttention: false,
                                               experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"});
    const sequence = context.getSequence();
    const tokens = [];
    for await (const token of sequence.evaluate(promptTokens, {temperature: 0})) {
        tokens.push(token);
        if (tokens.length >= count) break;
    }
    const text = model.detokenize(tokens);
    process.stdout.write(JSON.stringify({prompt_tokens: promptTokens, tokens, text}) + "\n");
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((error) => {
    process.stderr.write(`generate.mjs: ${error?.stack ?? error}\n`);
    process.exit(1);
});
