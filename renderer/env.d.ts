// Module types the bundler provides: a stylesheet import adds the sheet to the page.
declare module '*.css' {}
