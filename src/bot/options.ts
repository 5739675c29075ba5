/** Option definitions that several slash commands share. */
import { ApplicationCommandOptionType, type APIApplicationCommandBasicOption } from 'discord.js';

export const imageAttachmentOption: APIApplicationCommandBasicOption = {
  type: ApplicationCommandOptionType.Attachment,
  name: 'image',
  description: 'A JPG, PNG, GIF or WebP image',
  required: true,
};

export const cropOption: APIApplicationCommandBasicOption = {
  type: ApplicationCommandOptionType.String,
  name: 'crop',
  description: 'How to make it square (default: around the most interesting part)',
  choices: [
    { name: 'attention (most interesting part)', value: 'attention' },
    { name: 'centre', value: 'centre' },
    { name: 'contain (whole image on a background)', value: 'contain' },
  ],
};

export const backgroundOption: APIApplicationCommandBasicOption = {
  type: ApplicationCommandOptionType.String,
  name: 'background',
  description: 'Background colour for contain or transparency, like #1da1f2',
  min_length: 7,
  max_length: 7,
};
