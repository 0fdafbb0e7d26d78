"""The first account, asked for on a terminal when the database is created."""
import getpass


def admin_account():
    email = input("Email address: ")
    while "@" not in email:
        print("Invalid email address. Please try again.")
        email = input("Email address: ")
    password, again = getpass.getpass(), getpass.getpass("Retype password:")
    while password != again or len(password) < 8:
        password, again = getpass.getpass(), getpass.getpass("Retype password:")
    return email, password
