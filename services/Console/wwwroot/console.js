// What the server cannot know about its reader: their time zone and language.
window.tokageConsole = {
  timeZone: () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
  language: () => navigator.language || "en-US",
  copy: (text) => navigator.clipboard.writeText(text),
};
