// llama.cpp as the reference reader of qforge's GGUF exports, through node-llama-cpp's
// prebuilt CPU binary (@node-llama-cpp/linux-x64): nothing is built or downloaded at run time.
//
//   node probs.mjs probs MODEL.gguf 1,2,3      -> {"tokens":[1,2,3],"probs":[[p_0..p_V-1] x 3]}
//   node probs.mjs probs MODEL.gguf 1,2;3,4    -> one such JSON line per ';'-separated sequence (the model
//                                                 is loaded once, each sequence gets a fresh context)
//   node probs.mjs probs MODEL.gguf 1,2,3 --lora ADAPTER.gguf [--lora-scale S]
//                                              -> the same with a LoRA adapter GGUF applied to every context
//                                                 at user scale S (default 1; createContext's lora option)
//   node probs.mjs tokenize MODEL.gguf "text"  -> {"tokens":[...]}   (no BOS, specials as text,
//                                                 as llama.cpp's tests/test-tokenizer-0 does)
//
// probs[i] is the full next-token distribution after tokens[0..i], softmax (float64) of
// llama.cpp's raw logits at position i. The context uses an F32 KV cache with flash
// attention off: the default (F16 cache, flash attention) casts K and V to F16, which moves
// probabilities by up to 3e-3 even for an F32 file (docs/gguf.md §11).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

function usage(message) {
    process.stderr.write(`probs.mjs: ${message}\n` +
        "usage: node probs.mjs probs MODEL.gguf ID,ID,... [--lora ADAPTER.gguf [--lora-scale S]]\n" +
        "       node probs.mjs tokenize MODEL.gguf TEXT\n");
    process.exit(2);
}

function parseTokenList(text) {
    const tokens = text.split(",").map((field) => field.trim()).filter((field) => field !== "");
    if (tokens.length === 0) usage("token list is empty");
    return tokens.map((field) => {
        if (!/^\d+$/.test(field)) usage(`token id '${field}' is not a non-negative integer`);
        return Number(field);
    });
}

async function loadLlama() {
    // gpu: false + build: "never" -> use the shipped CPU binary or fail; never compile or fetch.
    return getLlama({
        gpu: false,
        build: "never",
        usePrebuiltBinaries: true,
        skipDownload: true,
        progressLogs: false,
        logLevel: LlamaLogLevel.error
    });
}

function softmax(logitsById, vocabSize) {
    const logits = new Float64Array(vocabSize).fill(-Infinity);
    for (const [token, logit] of logitsById) logits[token] = logit;
    let maxLogit = -Infinity;
    for (const logit of logits) maxLogit = Math.max(maxLogit, logit);
    let total = 0;
    const probs = new Array(vocabSize);
    for (let i = 0; i < vocabSize; i++) {
        probs[i] = Math.exp(logits[i] - maxLogit);
        total += probs[i];
    }
    for (let i = 0; i < vocabSize; i++) probs[i] /= total;
    return probs;
}

// --lora FILE [--lora-scale S] after the token list -> createContext's lora option, or undefined.
function parseLoraOptions(args) {
    let filePath, scale = 1;
    for (let i = 0; i < args.length; i += 2) {
        if (args[i + 1] == null) usage(`option ${args[i]} needs a value`);
        if (args[i] === "--lora") filePath = args[i + 1];
        else if (args[i] === "--lora-scale") {
            scale = Number(args[i + 1]);
            if (!Number.isFinite(scale)) usage(`--lora-scale '${args[i + 1]}' is not a number`);
        } else usage(`unknown option '${args[i]}'`);
    }
    if (filePath == null) {
        if (args.length > 0) usage("--lora-scale needs --lora");
        return undefined;
    }
    return {adapters: [{filePath, scale}]};
}

async function sequenceProbs(model, vocabSize, tokens, lora) {
    for (const token of tokens) {
        if (token >= vocabSize) usage(`token id ${token} is outside the vocabulary (size ${vocabSize})`);
    }
    // Room beyond the last token: a context that is exactly full makes node-llama-cpp shift it
    // (drop the oldest tokens) before the last evaluation, which changed the last row's distribution.
    const context = await model.createContext({
        contextSize: Math.max(tokens.length + 16, 32),
        batchSize: Math.max(tokens.length, 32),
        sequences: 1,
        flashAttention: false,
        experimentalKvCacheKeyType: "F32",
        experimentalKvCacheValueType: "F32",
        lora
    });
    const sequence = context.getSequence();
    const input = tokens.map((token) => [token, {generateNext: {logits: true}}]);
    const output = await sequence.controlledEvaluate(input);
    const probs = tokens.map((_, position) => {
        const logits = output[position]?.next?.logits;
        if (logits == null) throw new Error(`probs.mjs: llama.cpp returned no logits at position ${position}`);
        return softmax(logits, vocabSize);
    });
    await context.dispose();
    return {tokens, probs};
}

async function runProbs(llama, modelPath, sequences, lora) {
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    const vocabSize = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length;
    if (!Number.isInteger(vocabSize)) throw new Error(`probs.mjs: ${modelPath} has no tokenizer.ggml.tokens array`);
    const results = [];
    for (const tokens of sequences) results.push(await sequenceProbs(model, vocabSize, tokens, lora));
    await model.dispose();
    return results;
}

async function runTokenize(llama, modelPath, text) {
    const model = await llama.loadModel({modelPath, vocabOnly: true});
    const tokens = Array.from(model.tokenize(text, false));
    await model.dispose();
    return {tokens};
}

async function main() {
    const [mode, modelPath, argument, ...options] = process.argv.slice(2);
    if (mode == null || modelPath == null || argument == null) usage("missing arguments");
    const llama = await loadLlama();
    let results;
    if (mode === "probs") {
        results = await runProbs(llama, modelPath, argument.split(";").map(parseTokenList), parseLoraOptions(options));
    } else if (mode === "tokenize") {
        if (options.length > 0) usage("tokenize takes no options");
        results = [await runTokenize(llama, modelPath, argument)];
    } else usage(`unknown mode '${mode}'`);
    for (const result of results) process.stdout.write(JSON.stringify(result) + "\n");
    await llama.dispose();
}

main().catch((error) => {
    process.stderr.write(`probs.mjs: ${error?.stack ?? error}\n`);
    process.exit(1);
});
