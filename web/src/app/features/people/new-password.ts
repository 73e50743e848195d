import type { AbstractControl, ValidationErrors, ValidatorFn } from '@angular/forms';
import { Validators } from '@angular/forms';

import { MIN_PASSWORD_LENGTH } from './people-dtos';

/** The server's rule for new passwords: 12 to 1024 characters, nothing else imposed. */
export const newPasswordValidators: ValidatorFn[] = [
  Validators.required,
  Validators.minLength(MIN_PASSWORD_LENGTH),
  Validators.maxLength(1024),
];

/** On a group: its `password` and `repeat` controls must be equal. */
export function passwordsMatch(password: string, repeat: string): ValidatorFn {
  return (group: AbstractControl): ValidationErrors | null => {
    const first = group.get(password)?.value as unknown;
    const second = group.get(repeat)?.value as unknown;
    return first === second ? null : { mismatch: true };
  };
}
