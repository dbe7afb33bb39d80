defmodule CourierWeb.UserResetPasswordController do
  use CourierWeb, :controller

  alias Courier.Accounts
  alias Courier.Accounts.UserNotifier

  def new(conn, _params) do
    render(conn, :new)
  end

  def create(conn, %{"user" => %{"email" => email}}) do
    if user = Accounts.get_user_by_email(email) do
      UserNotifier.deliver_reset_password_instructions(user, &url(~p"/users/reset_password/#{&1}"))
    end

    conn
    |> put_flash(:info, "If your email is in our system, you will receive instructions shortly.")
    |> redirect(to: ~p"/")
  end
end
