/* Word lists for random names: adjective x animal. Every word is at most
 * 10 letters, so a name plus a 4-digit suffix fits in 24 characters. */
#include "names.h"

const char *const chat_adjectives[] = {
    "Agile", "Amber", "Ancient", "Brave", "Breezy", "Bright", "Brisk", "Bold",
    "Bouncy", "Calm", "Candid", "Cheery", "Chill", "Clever", "Cosmic", "Cozy",
    "Crafty", "Crisp", "Curious", "Daring", "Dapper", "Dashing", "Dizzy",
    "Dreamy", "Eager", "Earnest", "Elated", "Epic", "Fancy", "Fearless",
    "Feisty", "Fiery", "Fluffy", "Frosty", "Fuzzy", "Gentle", "Giddy", "Glad",
    "Gleaming", "Golden", "Graceful", "Grand", "Groovy", "Happy", "Hardy",
    "Hasty", "Hearty", "Humble", "Hushed", "Icy", "Jaunty", "Jazzy", "Jolly",
    "Jovial", "Keen", "Kind", "Lively", "Lucky", "Lunar", "Mellow", "Merry",
    "Mighty", "Misty", "Modest", "Nifty", "Nimble", "Noble", "Peppy", "Perky",
    "Placid", "Plucky", "Polite", "Proud", "Quick", "Quiet", "Quirky",
    "Radiant", "Rapid", "Rosy", "Rustic", "Sassy", "Serene", "Shiny", "Silent",
    "Silly", "Sleek", "Sleepy", "Snappy", "Snowy", "Solar", "Spry", "Starry",
    "Steady", "Stellar", "Sunny", "Swift", "Tidy", "Tranquil", "Trusty",
    "Upbeat", "Velvet", "Vivid", "Wacky", "Warm", "Whimsical", "Wise", "Witty",
    "Zany", "Zen", "Zesty",
};

const char *const chat_animals[] = {
    "Aardvark", "Albatross", "Alpaca", "Antelope", "Armadillo", "Badger",
    "Beaver", "Bison", "Bobcat", "Buffalo", "Camel", "Capybara", "Caribou",
    "Cheetah", "Chinchilla", "Cobra", "Condor", "Cougar", "Coyote", "Crane",
    "Cricket", "Dingo", "Dolphin", "Donkey", "Eagle", "Echidna", "Elk",
    "Falcon", "Ferret", "Finch", "Flamingo", "Fox", "Gazelle", "Gecko",
    "Gerbil", "Gibbon", "Giraffe", "Gopher", "Gorilla", "Hamster", "Hare",
    "Hedgehog", "Heron", "Hippo", "Hyena", "Ibex", "Iguana", "Impala",
    "Jackal", "Jaguar", "Kangaroo", "Koala", "Kiwi", "Lemur", "Leopard",
    "Lion", "Llama", "Lobster", "Lynx", "Macaw", "Mammoth", "Manatee",
    "Marmot", "Meerkat", "Mink", "Mole", "Mongoose", "Moose", "Narwhal",
    "Newt", "Ocelot", "Octopus", "Okapi", "Opossum", "Orca", "Osprey", "Otter",
    "Owl", "Panda", "Panther", "Parrot", "Pelican", "Penguin", "Puffin",
    "Puma", "Quail", "Rabbit", "Raccoon", "Raven", "Reindeer", "Salmon",
    "Seal", "Shark", "Sloth", "Squid", "Stork", "Swan", "Tapir", "Tiger",
    "Toucan", "Turtle", "Walrus", "Wombat", "Yak", "Zebra",
};

const uint32_t chat_n_adjectives = sizeof(chat_adjectives) / sizeof(chat_adjectives[0]);
const uint32_t chat_n_animals = sizeof(chat_animals) / sizeof(chat_animals[0]);
