//! The words of `Fill::Words`: short, common words of chat in English, lower-case ASCII (no
//! character a JSON encoder escapes), so a padded message reads and compresses like text.

pub(crate) const WORDS: &[&str] = &[
    "the", "be", "to", "of", "and", "a", "in", "that", "have", "i", "it", "for", "not", "on",
    "with", "he", "as", "you", "do", "at", "this", "but", "his", "by", "from", "they", "we", "say",
    "her", "she", "or", "an", "will", "my", "one", "all", "would", "there", "their", "what", "so",
    "up", "out", "if", "about", "who", "get", "which", "go", "me", "when", "make", "can", "like",
    "time", "no", "just", "him", "know", "take", "people", "into", "year", "your", "good", "some",
    "could", "them", "see", "other", "than", "then", "now", "look", "only", "come", "its", "over",
    "think", "also", "back", "after", "use", "two", "how", "our", "work", "first", "well", "way",
    "even", "new", "want", "because", "any", "these", "give", "day", "most", "us", "is", "are",
    "was", "lol", "ok", "yes", "thanks", "hi", "hello", "sure", "maybe", "tomorrow", "today",
    "tonight", "meeting", "call", "later", "sounds", "great", "cool", "nice", "sorry", "please",
    "here", "right", "really", "game", "stream", "chat", "room", "message", "link", "photo",
    "video", "home", "coffee", "lunch", "weekend", "deploy", "build", "test", "release", "bug",
    "fix", "merge", "review",
];
