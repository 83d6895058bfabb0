// The pre-tokenizer of a tokenizer.json alone, as @huggingface/tokenizers (tokenizers.js) runs it: for the
// pre-tokenizer checks of qforge's hand-coded regexes (tests/support/hf_tokenizers_peer.h).
//   node pre_tokenize.mjs TOKENIZER.json TEXTS.json   (TEXTS.json: a JSON array of strings)
// prints, one line per text, the JSON array of its pieces (in ByteLevel's byte characters when the
// pre-tokenizer ends with ByteLevel). No normalizer, no added tokens: the raw text goes in.
import {readFileSync} from "node:fs";
import {SequencePreTokenizer} from "@huggingface/tokenizers";

const [tokenizerPath, textsPath] = process.argv.slice(2);
if (tokenizerPath == null || textsPath == null) {
    process.stderr.write("usage: node pre_tokenize.mjs TOKENIZER.json TEXTS.json\n");
    process.exit(2);
}
// A Sequence of one step builds any pre-tokenizer type through the library's own factory.
const config = JSON.parse(readFileSync(tokenizerPath, "utf8")).pre_tokenizer;
const pre = new SequencePreTokenizer({pretokenizers: [config]});
const texts = JSON.parse(readFileSync(textsPath, "utf8"));
process.stdout.write(texts.map((text) => JSON.stringify(pre.pre_tokenize(text))).join("\n") + "\n");
