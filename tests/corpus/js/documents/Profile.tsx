import React from 'react';
import DOMPurify from 'dompurify';

type User = { id: string; name: string; bioHtml: string; website?: string };

export function ProfileCard({ user }: { user: User }): JSX.Element {
  // <fill card>
}

export function Banner({ message }: { message: string }) {
  // <fill banner>
}
